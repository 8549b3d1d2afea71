"""A recommendation strategy: the knobs an experiment's arm turns on the recommend service.

Usage::

    from llmrec_django.core.strategy import Strategy

    strategy = Strategy.from_dict({"mmr_lambda": 0.6, "sources": ["vector", "kg"]}, name="diverse")
    recommend_for_user("user-005", strategy=strategy)

Every key is optional; a missing one means "as configured" (the active version, the fitted blend,
the active re-ranker, ``MMR_LAMBDA``, no exploration, the ``COPY`` generator). Unknown keys and
bad values raise ``ValueError`` with a message naming them, so the admin can refuse an arm before
it serves anyone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmrec_django.core.ranking import HYBRID_FEATURES

# The recommend service's candidate sources (``recommend.SOURCE_NAMES``; kept here so that this
# module does not import the service).
CANDIDATE_SOURCES = (
    "vector", "collaborative", "item_knn", "kg", "popularity", "new_items", "sequential", "transition",
)  # fmt: skip
MAX_EXPLORATION_SLOTS = 10


@dataclass(frozen=True)
class Strategy:
    name: str = "default"
    # Candidate sources to use (a subset of CANDIDATE_SOURCES); None: all.
    sources: tuple[str, ...] | None = None
    # Weights of the hybrid features (HYBRID_FEATURES, standardised within the list) replacing
    # the fitted blend: score = sigmoid(sum(weight * feature)). Features not named weigh 0.
    blend_weights: Mapping[str, float] | None = None
    # A stored blend (RankingModel id) instead of the tenant's latest.
    ranking_model_id: int | None = None
    # An embedding version (id) of the tenant instead of the active one; it must be ready.
    version_id: int | None = None
    # False: no re-ranking; True or None: the active re-ranker when there is one.
    reranker: bool | None = None
    mmr_lambda: float | None = None
    # Places per list given to under-exposed items (None: LLMREC["ONLINE"]["EXPLORATION"]).
    exploration_slots: int | None = None
    # Dotted path of a copy generator instead of LLMREC["COPY"]["BACKEND"].
    copy_generator: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # as given, for logs and the admin

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, *, name: str = "default") -> Strategy:
        raw = dict(raw or {})
        if not isinstance(raw, dict):
            raise ValueError("A strategy is a JSON object.")
        known = {
            "sources",
            "blend_weights",
            "ranking_model_id",
            "version_id",
            "reranker",
            "mmr_lambda",
            "exploration_slots",
            "copy_generator",
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"Unknown strategy key(s) {unknown}; known: {sorted(known)}.")
        sources = raw.get("sources")
        if sources is not None:
            if isinstance(sources, str) or not isinstance(sources, list | tuple) or not sources:
                raise ValueError(f"sources must be a non-empty list of {list(CANDIDATE_SOURCES)}.")
            bad = [s for s in sources if s not in CANDIDATE_SOURCES]
            if bad:
                raise ValueError(f"Unknown candidate source(s) {bad}; known: {list(CANDIDATE_SOURCES)}.")
            sources = tuple(dict.fromkeys(sources))
        weights = raw.get("blend_weights")
        if weights is not None:
            if not isinstance(weights, dict) or not weights:
                raise ValueError(f"blend_weights must be an object of feature -> weight over {list(HYBRID_FEATURES)}.")
            bad = [f for f in weights if f not in HYBRID_FEATURES]
            if bad:
                raise ValueError(f"Unknown blend feature(s) {bad}; known: {list(HYBRID_FEATURES)}.")
            weights = {f: _number(w, f"blend_weights[{f!r}]") for f, w in weights.items()}
        if weights is not None and raw.get("ranking_model_id") is not None:
            raise ValueError("Give blend_weights or ranking_model_id, not both.")
        mmr_lambda = raw.get("mmr_lambda")
        if mmr_lambda is not None:
            mmr_lambda = _number(mmr_lambda, "mmr_lambda")
            if not 0.0 <= mmr_lambda <= 1.0:
                raise ValueError(f"mmr_lambda must lie in [0, 1], got {mmr_lambda}.")
        slots = raw.get("exploration_slots")
        if slots is not None:
            slots = _whole(slots, "exploration_slots")
            if not 0 <= slots <= MAX_EXPLORATION_SLOTS:
                raise ValueError(f"exploration_slots must lie in [0, {MAX_EXPLORATION_SLOTS}], got {slots}.")
        reranker = raw.get("reranker")
        if reranker is not None and not isinstance(reranker, bool):
            raise ValueError("reranker must be true or false.")
        copy_generator = raw.get("copy_generator")
        if copy_generator is not None and (not isinstance(copy_generator, str) or "." not in copy_generator):
            raise ValueError(
                "copy_generator must be a dotted path, e.g. llmrec_django.copywriting.TemplateCopyGenerator."
            )
        return cls(
            name=name,
            sources=sources,
            blend_weights=weights,
            ranking_model_id=_whole(raw["ranking_model_id"], "ranking_model_id")
            if raw.get("ranking_model_id") is not None
            else None,
            version_id=_whole(raw["version_id"], "version_id") if raw.get("version_id") is not None else None,
            reranker=reranker,
            mmr_lambda=mmr_lambda,
            exploration_slots=slots,
            copy_generator=copy_generator,
            options=raw,
        )


DEFAULT_STRATEGY = Strategy()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}.")
    return float(value)


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, got {value!r}.")
    return value
