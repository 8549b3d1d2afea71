"""Hyper-parameters of a training run: ``LLMREC["TRAINING"]`` COMMON, then the model's own dict,
then per-run overrides (``llmrec_train --set key=value``), checked against the known keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmrec_django.conf import DEFAULTS, llmrec_settings
from llmrec_django.ml.encoders.projection import TRAINABLE
from llmrec_django.ml.encoders.user_tower import UserTower
from llmrec_django.ml.training.loop import LoopConfig

KINDS = ("encoder", "reranker")
LOOP_KEYS = tuple(LoopConfig.__dataclass_fields__)


def known_keys(kind: str) -> set[str]:
    training = DEFAULTS["TRAINING"]
    return set(training["COMMON"]) | set(training[kind.upper()])


def run_params(kind: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every hyper-parameter of a ``kind`` run; an unknown override key raises ``ValueError``."""
    if kind not in KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; choose one of {', '.join(KINDS)}.")
    training = llmrec_settings.TRAINING
    params = {**training["COMMON"], **training[kind.upper()]}
    unknown = set(overrides or {}) - known_keys(kind)
    if unknown:
        raise ValueError(
            f"Unknown {kind} training parameter(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(known_keys(kind)))}."
        )
    params.update(overrides or {})
    loop_config(params)  # validates the loop's part now, before any work
    _check_monitor(kind, params)
    if kind == "encoder":
        user_tower(params)
        if params.get("trainable", "all") not in TRAINABLE:
            raise ValueError(
                f"Invalid encoder training parameters: trainable must be one of {', '.join(TRAINABLE)}, "
                f"not {params['trainable']!r}."
            )
    return params


# The validation figures each kind's epochs report (``modules.info_nce_validation`` /
# ``bce_validation``); an encoder's ranking figures need a catalogue sample to rank.
VALIDATION_FIGURES = {
    "encoder": ("valid_loss", "valid_accuracy", "valid_recall@10", "valid_ndcg@10"),
    "reranker": ("valid_loss", "valid_auc"),
}
RANKING_FIGURES = ("valid_recall@10", "valid_ndcg@10")


def _check_monitor(kind: str, params: dict[str, Any]) -> None:
    monitor = params.get("monitor", "valid_loss")
    if monitor not in VALIDATION_FIGURES[kind]:
        raise ValueError(
            f"Invalid {kind} training parameters: monitor must be one of {', '.join(VALIDATION_FIGURES[kind])}, "
            f"not {monitor!r}."
        )
    if monitor in RANKING_FIGURES and int(params.get("catalogue_sample") or 0) <= 0:
        raise ValueError(
            f"Invalid {kind} training parameters: monitor {monitor!r} needs a catalogue to rank (catalogue_sample > 0)."
        )


def user_tower(params: dict[str, Any]) -> UserTower:
    """The user side an encoder run trains (and saves with the model); ``ValueError`` if invalid."""
    try:
        return UserTower(
            history_items=int(params["history_items"]),
            anchor=str(params.get("anchor", "titles")),
            text_weight=float(params["user_text_weight"]),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid encoder training parameters: {exc}") from exc


def loop_config(params: dict[str, Any]) -> LoopConfig:
    values = {key: params[key] for key in LOOP_KEYS if key in params}
    for key in ("epochs", "batch_size", "grad_accumulation", "patience", "seed"):
        if key in values:
            values[key] = int(values[key])
    for key in ("learning_rate", "weight_decay", "warmup_ratio", "max_grad_norm"):
        if key in values:
            values[key] = float(values[key])
    try:
        return LoopConfig(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid training parameters: {exc}") from exc


def parse_value(raw: str) -> Any:
    """A ``--set`` value: int, float, true/false/none, or the string itself."""
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def artifacts_root() -> Path:
    return llmrec_settings.training_artifacts
