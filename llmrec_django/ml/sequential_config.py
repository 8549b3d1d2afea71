"""The sequential model's options, without torch: the settings check reads them at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SequentialConfig:
    max_length: int = 50  # the last items of a user the model reads
    dimension: int = 64
    layers: int = 2
    heads: int = 2
    dropout: float = 0.2
    experts: int = 4  # adaptor experts (text)
    text: bool = True  # items through their text vectors (inductive)
    item_ids: bool = True  # plus an embedding per item seen in training (transductive)
    # With text: the share of items whose id embedding is left out in each training batch, so
    # that an item's text alone must rank it too. Without it, "has no id embedding" would mark
    # exactly the items nobody trained on, and the model would learn to push them up or down as
    # a group (in a leave-one-out evaluation: the held-out items themselves).
    id_dropout: float = 0.5
    time_gaps: bool = True
    gap_buckets: int = 24
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 200
    patience: int = 5
    windows_per_user: int = 8  # long histories give this many windows of max_length, latest first
    full_softmax_items: int = 50_000
    sampled_negatives: int = 2048
    validation_users: int = 3000
    device: str = "auto"  # where it trains: "auto" (CUDA when available), "cpu", "cuda", "cuda:1" ...

    def __post_init__(self) -> None:
        if not (self.text or self.item_ids):
            raise ValueError("A sequential model needs item text vectors, item ids, or both.")
        if self.dimension % self.heads:
            raise ValueError(f"dimension ({self.dimension}) must be a multiple of heads ({self.heads}).")
        for name in ("max_length", "dimension", "layers", "heads", "batch_size", "max_epochs", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"Sequential {name} must be at least 1, not {getattr(self, name)!r}.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"Sequential dropout must lie in [0, 1), not {self.dropout!r}.")
        if not 0 <= self.id_dropout < 1:
            raise ValueError(f"Sequential id_dropout must lie in [0, 1), not {self.id_dropout!r}.")

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> SequentialConfig:
        """From ``LLMREC["SEQUENTIAL"]``-style options; unknown names are refused, by name."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown sequential model option(s): {', '.join(unknown)}.")
        return cls(**values)
