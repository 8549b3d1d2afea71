"""The two trainers: load the base model, run the shared loop, save the best epoch's weights.

Both take ``(base_path, examples, params)`` and return the loop's summary as a dict; with
``output`` (rank 0) the best weights and the tokenizer are saved to the folder ``output``, which
``TransformerEncoder`` (encoder) or ``training.reranker`` (cross-encoder) loads as is.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmrec_django.learning.training.config import artifacts_root, loop_config, user_tower
from llmrec_django.learning.training.data import TrainingExamples
from llmrec_django.ml.encoders.user_tower import HistoryAnchor, UserTower, write_user_tower
from llmrec_django.ml.training.loop import DistributedInfo, EpochRecord, fit, resolve_device

logger = logging.getLogger(__name__)


def _save_best(output: Path | None, tower: UserTower | None = None) -> Callable[[Any, int], None] | None:
    if output is None:
        return None

    def checkpoint(module, epoch: int) -> None:
        # Written beside, then swapped in, so a crash mid-save never leaves a half model as "best".
        partial = output.with_name(output.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        module.save(partial)
        if tower is not None:
            # A history tower's position weights are learnt: saved as they are at this epoch.
            learnt = module.position_weights() if tower.weighs_history else ()
            write_user_tower(partial, dataclasses.replace(tower, position_weights=learnt) if learnt else tower)
        (partial / "EPOCH").write_text(str(epoch))
        shutil.rmtree(output, ignore_errors=True)
        partial.rename(output)

    return checkpoint


def _summary(result) -> dict[str, Any]:
    return {
        "epochs": [r.to_dict() for r in result.epochs],
        "best_epoch": result.best_epoch,
        "best_valid_loss": result.best_valid_loss,
        "stopped_early": result.stopped_early,
        "device": result.device,
        "precision": result.precision,
        "world_size": result.world_size,
        "steps": result.steps,
    }


def train_encoder(
    base_path: str,
    examples: TrainingExamples,
    params: dict[str, Any],
    *,
    output: Path | None = None,
    dist_info: DistributedInfo | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Two-tower fine-tuning with InfoNCE (in-batch + hard negatives, and the catalogue's items
    with ``catalogue_negatives``); each epoch's validation also ranks the examples' catalogue."""
    from llmrec_django.ml.training.modules import (
        BiEncoder,
        CatalogueNegatives,
        collate_pairs,
        info_nce_loss,
        info_nce_validation,
    )

    config = loop_config(params)
    temperature = float(params["temperature"])
    tower = user_tower(params)  # the user side as trained, saved with the weights for serving
    model = BiEncoder(
        base_path,
        max_length=int(params["max_length"]),
        trainable=str(params.get("trainable", "all")),
        history_items=tower.history_items if tower.weighs_history else 0,
        text_weight=tower.text_weight,
    )
    cached = _cache_texts(model, examples, config, dist_info) if model.trainable == "projection" else None
    catalogue = (
        CatalogueNegatives(examples.catalogue, refresh_every=int(params.get("catalogue_refresh_batches", 100)))
        if examples.catalogue
        else None
    )
    result = fit(
        model,
        examples.train,
        functools.partial(collate_pairs, model),
        functools.partial(
            info_nce_loss, temperature=temperature, catalogue=catalogue if examples.catalogue_negatives else None
        ),
        lambda module: info_nce_validation(module, examples.valid, config.batch_size, temperature, catalogue),
        config,
        checkpoint=_save_best(output, tower),
        on_epoch=on_epoch,
        on_progress=on_progress,
        dist_info=dist_info,
    )
    return {**_summary(result), **({"cache": cached} if cached else {})}


def _cache_texts(model, examples: TrainingExamples, config, dist_info: DistributedInfo | None) -> dict[str, Any]:
    """Projection-only training: every distinct text of the run through the frozen transformer
    once, on the training device, before the first epoch (which then costs seconds). The item
    texts' vectors are kept under ``ARTIFACTS/pooled-cache`` (those of the latest run per base
    model), so the next run on the same base model encodes only the items it has not seen; users'
    texts (their words, queries, histories) are encoded for the run only and never written."""
    started = time.perf_counter()
    model.to(resolve_device(config.device, dist_info))
    user_texts = [text for e in examples.train for text in _texts(e[0])]
    user_texts += [text for e in examples.valid for text in _texts(e[0])]
    item_texts = [text for e in examples.train for text in (e[1], *(e[2] if len(e) > 2 else ()))]
    item_texts += [e[1] for e in examples.valid]
    item_texts += list(examples.catalogue)
    store = artifacts_root() / "pooled-cache" / f"{model.cache_key()}.pt"
    reused = 0
    if store.is_file():
        try:
            reused = model.load_cache(store)
        except Exception as exc:  # a damaged or foreign file only costs the encoding
            logger.warning("Ignoring the pooled-vector cache %s: %s", store, exc)
    encoded = model.cache(item_texts + user_texts)
    if encoded and (dist_info is None or dist_info.is_main):
        model.save_cache(store, item_texts)
    return {"texts": encoded, "reused": reused, "seconds": round(time.perf_counter() - started, 3)}


def _texts(anchor: str | HistoryAnchor) -> tuple[str, ...]:
    return anchor.texts() if isinstance(anchor, HistoryAnchor) else (anchor,)


def train_reranker(
    base_path: str,
    examples: TrainingExamples,
    params: dict[str, Any],
    *,
    output: Path | None = None,
    dist_info: DistributedInfo | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Cross-encoder CTR model with binary cross-entropy."""
    from llmrec_django.ml.training.modules import CrossEncoder, bce_loss, bce_validation, collate_labelled

    config = loop_config(params)
    model = CrossEncoder(base_path, max_length=int(params["max_length"]))
    result = fit(
        model,
        examples.train,
        functools.partial(collate_labelled, model),
        bce_loss,
        lambda module: bce_validation(module, examples.valid, config.batch_size * 4),
        config,
        checkpoint=_save_best(output),
        on_epoch=on_epoch,
        on_progress=on_progress,
        dist_info=dist_info,
    )
    return _summary(result)
