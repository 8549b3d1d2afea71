"""The user side of a fine-tuned two-tower encoder: how a user is written as text for it.

An encoder fine-tuned by ``llmrec_django.learning.training`` learnt to put a user's text (stated profile,
recent searches, then the last ``history_items`` liked items: their titles, or their full texts)
close to the text of the item that user engages with next. A vector made the base model's way,
the mean of the liked items' vectors, never asks the model that question; the user's text does.
So the recipe is saved beside the weights (``USER_TOWER_FILE``) and whoever serves the model
builds the same text: ``embedding.compute_user_vectors`` encodes it and adds it to the weighted
history with ``text_weight`` (where a base model adds the profile text with ``PROFILE_WEIGHT``).
A model without the file (all-MiniLM-L6-v2, any model from elsewhere) has no user tower.

With ``anchor="history"`` the user is not written as one text: the training learnt a weight for
each of the last ``history_items`` liked items by its position (``position_weights``, oldest
first), and the user's vector is those items' vectors so weighted (the user's stated text, if
any, added with ``text_weight``). That is how the service already makes interest vectors, with
the weights learnt rather than a half-life: no user text to encode, and the order of recent
items (which the collaborative models do not see) carried exactly.

No Django and no torch here: the file is small JSON, read once per model directory and change.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Container, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from llmrec_django.core.text import build_user_text, user_history_text, user_item_texts_text

USER_TOWER_FILE = "llmrec_user_tower.json"
ANCHORS = ("titles", "item_texts", "history")


@dataclass(frozen=True)
class UserTower:
    history_items: int  # recent liked items in a user's text
    anchor: str = "titles"  # how they are written: "titles" or full "item_texts"
    text_weight: float = 1.0  # the user text's vector against the weighted history's (which counts 1)
    # anchor "history": the weight of each of the last ``history_items`` liked items, oldest
    # first (learnt in training); empty: equal weights
    position_weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"User tower anchor must be one of {', '.join(ANCHORS)}, not {self.anchor!r}.")
        if int(self.history_items) < 1:
            raise ValueError(f"User tower history_items must be at least 1, not {self.history_items!r}.")
        if not float(self.text_weight) >= 0:
            raise ValueError(f"User tower text_weight must be a number >= 0, not {self.text_weight!r}.")
        weights = tuple(float(w) for w in self.position_weights)
        object.__setattr__(self, "position_weights", weights)
        if weights:
            if self.anchor != "history":
                raise ValueError("User tower position_weights belong to the anchor 'history' only.")
            if len(weights) != int(self.history_items):
                raise ValueError(
                    f"User tower position_weights needs one weight per history item ({self.history_items}), "
                    f"got {len(weights)}."
                )
            if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
                raise ValueError("User tower position_weights must be finite, >= 0 and not all 0.")

    @property
    def weighs_history(self) -> bool:
        """True when the user's vector is their recent items' vectors weighted by position."""
        return self.anchor == "history"

    def history_weights(self, n: int) -> list[float]:
        """The weights of a user's last ``n`` liked items (oldest first, ``n`` at most
        ``history_items``): the newest ``n`` of ``position_weights``, or equal weights."""
        n = min(int(n), int(self.history_items))
        if n <= 0:
            return []
        return list(self.position_weights[-n:]) if self.position_weights else [1.0] * n

    def weighted_history(self, recent: Sequence[int], usable: Container[int]) -> tuple[list[int], list[float]]:
        """A user's last liked items (``recent``, oldest first) that are ``usable`` (have a
        vector), with the position weights they had among ``recent``."""
        recent = list(recent)[-int(self.history_items) :]
        weights = self.history_weights(len(recent))
        kept = [j for j, item in enumerate(recent) if item in usable]
        return [recent[j] for j in kept], [weights[j] for j in kept]

    def text(
        self, profile: str, queries: Sequence[str], recent_titles: Sequence[str], recent_texts: Sequence[str]
    ) -> str:
        """The user's text from their recent liked items (both lists oldest first, one entry per
        item; only the last ``history_items`` are used). With the anchor "history" the items are
        weighed as vectors, not written: the text is what the user or the site stated."""
        if self.anchor == "history":
            return build_user_text(profile, queries)
        if self.anchor == "item_texts":
            newest_first = list(reversed(list(recent_texts)[-self.history_items :]))
            return user_item_texts_text(profile, queries, newest_first)
        return user_history_text(profile, queries, list(recent_titles)[-self.history_items :])


@dataclass(frozen=True)
class HistoryAnchor:
    """An encoder anchor for a user tower that weighs recent items (anchor "history"): the text
    the user or site stated (may be empty) and the texts of their last liked items, oldest first."""

    text: str
    items: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.text or self.items)

    def texts(self) -> tuple[str, ...]:
        return ((self.text,) if self.text else ()) + self.items


def write_user_tower(directory: str | Path, tower: UserTower) -> Path:
    path = Path(directory) / USER_TOWER_FILE
    path.write_text(json.dumps(asdict(tower), indent=2) + "\n")
    return path


def read_user_tower(model_path: str | Path | None) -> UserTower | None:
    """The recipe saved with the model at ``model_path``, or None (no file: no user tower).
    A file that cannot be read as a recipe raises ``ValueError`` naming it."""
    if not model_path:
        return None
    path = Path(model_path) / USER_TOWER_FILE
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return _read(str(path), (stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=32)
def _read(path: str, _stamp: tuple[int, int]) -> UserTower:
    try:
        fields = json.loads(Path(path).read_text())
        return UserTower(
            history_items=int(fields["history_items"]),
            anchor=str(fields.get("anchor", "titles")),
            text_weight=float(fields.get("text_weight", 1.0)),
            position_weights=tuple(fields.get("position_weights") or ()),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"Cannot read the user tower recipe {path}: {exc}") from exc
