"""Serving the trained CTR re-ranker: re-order the top of a recommendation list.

``recommend_for_user`` calls ``rerank(tenant, profile, item_ids, scores)`` just before its final
steps (rules, diversity). When the tenant has an active re-ranker run (``TrainingRun`` of kind
reranker, promotion "active"), the top ``LLMREC["TRAINING"]["RERANKER"]["top_n"]`` items by score
are scored by the cross-encoder on "user text [SEP] item text", re-ordered by that click
probability fused with their hybrid score (``core.ranking.fuse_reranker``, ``RERANKER`` weight)
and kept above the rest (whose scores and order are untouched); otherwise the scores come back
unchanged.

The model is loaded once per process and path (``CrossEncoderScorer``), lazily, and kept; a
newly promoted run is picked up by the next request. ``using(path)`` / ``disabled()`` override
the choice for the current context (the promotion's offline evaluation scores a candidate this
way in its scratch tenant).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from llmrec_django.catalogue.embedding import item_texts
from llmrec_django.catalogue.interest_profile import current_user_text
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.database import artifacts, caches
from llmrec_django.ml.training.loop import autocast_context, resolve_device, resolve_precision
from llmrec_django.models import Item, Tenant, UserProfile
from llmrec_django.recommend.state import active_reranker, serving_state  # noqa: F401  (active_reranker: as before)

logger = logging.getLogger(__name__)

_DISABLED = object()
_override: contextvars.ContextVar[Any] = contextvars.ContextVar("llmrec_reranker_override", default=None)
_scorers: dict[str, CrossEncoderScorer] = {}
_scorers_lock = threading.Lock()


class CrossEncoderScorer:
    """A saved cross-encoder, loaded on first use; ``score(users, items)`` -> click probabilities."""

    def __init__(self, path: str, *, max_length: int = 128, batch_size: int = 64, device: str = "auto"):
        self.path = path
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        from llmrec_django.ml.training.modules import CrossEncoder

        device = resolve_device(self.device)  # "auto": CUDA when available, else CPU
        model = CrossEncoder(self.path, max_length=self.max_length)
        model.to(device).eval()
        return model, device

    def score(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        import torch

        with self._lock:
            if self._model is None:
                self._model = self._load()
            model, device = self._model
            out = []
            with torch.inference_mode(), autocast_context(device, resolve_precision("auto", device)):
                for start in range(0, len(users), self.batch_size):
                    inputs = model.tokenize(
                        list(users[start : start + self.batch_size]), list(items[start : start + self.batch_size])
                    )
                    logits = model(**{k: v.to(device) for k, v in inputs.items()})
                    out.append(torch.sigmoid(logits.float()).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def scorer_for(path: str) -> CrossEncoderScorer:
    with _scorers_lock:
        if path not in _scorers:
            params = llmrec_settings.TRAINING["COMMON"]
            _scorers[path] = CrossEncoderScorer(
                str(artifacts.local_path(path)),
                max_length=int(params["max_length"]),
                device=str(params.get("device", "auto")),
            )
        return _scorers[path]


def clear_cache() -> None:
    with _scorers_lock:
        _scorers.clear()


caches.register(clear_cache)


@contextlib.contextmanager
def using(path: str | None) -> Iterator[None]:
    """Within the block, re-rank with the model at ``path`` whatever is active (None: with none)."""
    token = _override.set(path if path else _DISABLED)
    try:
        yield
    finally:
        _override.reset(token)


def disabled() -> contextlib.AbstractContextManager[None]:
    return using(None)


def model_for(tenant: Tenant) -> tuple[str | None, int | None]:
    """``(path, run id)`` of the re-ranker that serves ``tenant`` now: the one ``using()`` names
    (no run id), else the active run's; ``(None, None)`` when none does."""
    override = _override.get()
    if override is _DISABLED:
        return None, None
    if override is not None:
        return override, None
    active = serving_state(tenant.pk if isinstance(tenant, Tenant) else int(tenant)).reranker
    return active if active else (None, None)


def model_path_for(tenant: Tenant) -> str | None:
    return model_for(tenant)[0]


def rerank(
    tenant: Tenant, profile: UserProfile, item_ids: Sequence[int], scores: np.ndarray, *, path: str | None = None
) -> np.ndarray:
    """``scores`` with the top N re-ordered by the re-ranker at ``path`` (default: the one that
    serves ``tenant``); unchanged without one."""
    path = path if path is not None else model_path_for(tenant)
    if path is None or len(item_ids) < 2:
        return scores

    params = llmrec_settings.TRAINING
    top_n = int(params["RERANKER"]["top_n"])
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")[:top_n]
    ids = [int(item_ids[j]) for j in order]
    items = {t.item_id: t.text for t in item_texts(Item.objects.filter(pk__in=ids))}
    left = current_user_text(profile, int(params["COMMON"]["history_items"])) or "(new user)"
    try:
        probabilities = scorer_for(path).score([left] * len(ids), [items.get(i, "") for i in ids])
    except (OSError, ValueError, RuntimeError) as exc:
        logger.warning("Re-ranker at %s failed (%s); keeping the hybrid order.", path, exc)
        return scores
    fused = ranking.fuse_reranker(scores[order], probabilities, float(params["RERANKER"]["weight"]))
    reranked = scores.copy()
    rest = np.delete(scores, order)
    floor = float(rest.max()) if len(rest) else 0.0
    # The top N stay above the rest, in the fused order; each keeps a score in (floor, floor + 1].
    reranked[order] = floor + 1e-6 + fused
    return reranked
