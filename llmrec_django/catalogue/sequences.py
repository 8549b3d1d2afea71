"""The order of what people do: item-to-item transitions and the sequential user model, fitted
with the collaborative model (``llmrec_fit``) and stored in the same file.

Usage::

    from llmrec_django.catalogue import sequences

    events = sequences.load_sequence_events(tenant)       # engagements, oldest first
    models = sequences.fit_sequence_models(events, sequences.catalogue_vectors(tenant))
    items, times = sequences.from_history(history.events) # a request's history, oldest first
    vector = models.user_vector(items, times)             # the sequential model's user vector
    models.sequential_recommend(vector, n=50, exclude=seen)
    models.transition_recommend(items[::-1], n=50, exclude=seen)

A sequence is a user's engagements in time order: events whose type has a positive weight in
``LLMREC["EVENT_WEIGHTS"]`` (a view, a click, a purchase, a rating of any stars: something the
user did with the item), with consecutive repeats of one item counted once. Dislikes and
impressions are not steps. The transitions (``core.transitions``) are counted over the same
sequences; the sequential model (``ml.sequential``) reads the active embedding version's item
vectors, so items known only by their text can be recommended, and learns an embedding for each
item seen in training.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse

from llmrec_django.catalogue.interactions import Interactions, load_events
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking, transitions
from llmrec_django.database import vectorstore
from llmrec_django.models import EmbeddingVersion, Item, Tenant

if TYPE_CHECKING:
    from llmrec_django.ml.sequential import SequentialScorer

logger = logging.getLogger(__name__)

TRANSITION_KEYS = ("transition_item_ids", "transition_data", "transition_indices", "transition_indptr")


def step_types() -> list[str]:
    """Event types that are steps of a sequence: a positive weight in ``EVENT_WEIGHTS``."""
    return sorted(t for t, w in llmrec_settings.EVENT_WEIGHTS.items() if float(w) > 0)


def load_sequence_events(tenant: Tenant | int) -> Interactions:
    """The tenant's engagement events (``step_types``), oldest first (read in bulk); weights 1."""
    return load_events(tenant, step_types())


def from_history(events: Sequence[tuple]) -> tuple[list[int], list[float]]:
    """A request's history (``serving_data.History.events``: latest first) as a sequence:
    item ids and Unix times, oldest first, engagements only, consecutive repeats once."""
    steps = set(step_types())
    items: list[int] = []
    times: list[float] = []
    for item_id, event_type, _value, stamp, *_ in reversed(events):
        if event_type not in steps:
            continue
        if items and items[-1] == item_id:
            times[-1] = stamp.timestamp()
            continue
        items.append(int(item_id))
        times.append(stamp.timestamp())
    return items, times


def user_sequences(data: Interactions) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{user: (item ids, times)}`` oldest first, consecutive repeats of an item once."""
    order = np.lexsort((data.times, data.user_ids))
    users, items, times = data.user_ids[order], data.item_ids[order], data.times[order]
    keep = np.ones(len(items), dtype=bool)
    keep[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    users, items, times = users[keep], items[keep], times[keep]
    bounds = np.flatnonzero(np.diff(users)) + 1
    out = {}
    for part_users, part_items, part_times in zip(
        np.split(users, bounds), np.split(items, bounds), np.split(times, bounds), strict=True
    ):
        if len(part_users):
            out[int(part_users[0])] = (part_items, part_times)
    return out


def catalogue_vectors(
    tenant: Tenant | int, version: EmbeddingVersion | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(item ids, vectors)`` of the tenant's active items in ``version`` (default: the active one)."""
    version = version or vectorstore.active_version(tenant)
    if version is None:
        return None
    ids = list(Item.objects.for_tenant(tenant).filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    rows = vectorstore.item_vectors(version, ids)
    ids = [i for i in ids if i in rows]
    if not ids:
        return None
    return np.asarray(ids, dtype=np.int64), np.stack([rows[i] for i in ids]).astype(np.float32)


@dataclass
class SequenceModels:
    """Transitions between items and the sequential model, answering with database ids."""

    transition_item_ids: np.ndarray | None = None
    transitions: scipy.sparse.csr_matrix | None = None
    sequential_item_ids: np.ndarray | None = None  # the database id of each row 1..N
    sequential: SequentialScorer | None = None

    def __post_init__(self) -> None:
        ids = self.transition_item_ids if self.transition_item_ids is not None else np.zeros(0, dtype=np.int64)
        self.transition_column = {int(i): c for c, i in enumerate(ids.tolist())}
        ids = self.sequential_item_ids if self.sequential_item_ids is not None else np.zeros(0, dtype=np.int64)
        self.sequential_row = {int(i): r + 1 for r, i in enumerate(ids.tolist())}
        self.sequential_column = {int(i): r for r, i in enumerate(ids.tolist())}  # into sequential_vector

    # -- transitions ---------------------------------------------------------------------------

    def transition_vector(self, recent: Iterable[int]) -> np.ndarray | None:
        """Transition score of every column after ``recent`` (item ids, latest first)."""
        if self.transitions is None:
            return None
        window = int(llmrec_settings.TRANSITIONS["RECENT_ITEMS"])
        columns = [self.transition_column[i] for i in recent if i in self.transition_column][:window]
        if not columns:
            return None
        return transitions.score_from_recent(
            self.transitions, columns, float(llmrec_settings.TRANSITIONS["RECENT_DECAY"])
        )

    def transition_recommend(self, vector: np.ndarray | None, n: int, exclude: Iterable[int]) -> dict[int, float]:
        return ranking.top_items(vector, self.transition_item_ids, n, exclude, positive_only=True)

    def transition_scores(self, vector: np.ndarray | None, item_ids: Sequence[int]) -> np.ndarray:
        return _pick(vector, self.transition_column, item_ids)

    def transition_source(self, recent: Sequence[int], item_id: int) -> int | None:
        """The latest of ``recent`` (latest first) that people often went on from to ``item_id``."""
        column = self.transition_column.get(int(item_id))
        if self.transitions is None or column is None:
            return None
        window = int(llmrec_settings.TRANSITIONS["RECENT_ITEMS"])
        for source in recent[:window]:
            row = self.transition_column.get(int(source))
            if row is not None and self.transitions[row, column] > 0:
                return int(source)
        return None

    # -- the sequential model ------------------------------------------------------------------

    def user_vector(self, items: Sequence[int], times: Sequence[float]) -> np.ndarray | None:
        """The sequential model's vector of a user from their sequence (item ids, oldest first)."""
        if self.sequential is None:
            return None
        pairs = [(self.sequential_row[i], t) for i, t in zip(items, times, strict=True) if i in self.sequential_row]
        if not pairs:
            return None
        vector = self.sequential.user_vector([r for r, _ in pairs], [t for _, t in pairs])
        return vector if vector is not None and np.isfinite(vector).all() else None

    def sequential_vector(self, user_vector: np.ndarray | None) -> np.ndarray | None:
        """The sequential score of every row 1..N for a user vector (``user_vector``)."""
        if user_vector is None or self.sequential is None:
            return None
        return self.sequential.table[1:] @ user_vector

    def sequential_recommend(self, scores: np.ndarray | None, n: int, exclude: Iterable[int]) -> dict[int, float]:
        return ranking.top_items(scores, self.sequential_item_ids, n, exclude)

    def sequential_scores(self, scores: np.ndarray | None, item_ids: Sequence[int]) -> np.ndarray:
        return _pick(scores, self.sequential_column, item_ids)

    # -- storage -------------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        if self.transitions is not None:
            arrays.update(
                transition_item_ids=self.transition_item_ids,
                transition_data=self.transitions.data.astype(np.float32),
                transition_indices=self.transitions.indices,
                transition_indptr=self.transitions.indptr,
            )
        if self.sequential is not None:
            arrays["sequential_item_ids"] = self.sequential_item_ids
            arrays.update(self.sequential.to_arrays())
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> SequenceModels:
        table = None
        ids = None
        if all(key in arrays for key in TRANSITION_KEYS):
            ids = np.asarray(arrays["transition_item_ids"])
            table = scipy.sparse.csr_matrix(
                (arrays["transition_data"], arrays["transition_indices"], arrays["transition_indptr"]),
                shape=(len(ids), len(ids)),
            )
        sequential = None
        if any(str(key).startswith("sequential__") for key in arrays):
            # torch is imported when a model holds a sequential part, never at start-up (workers
            # fork after importing the tasks).
            from llmrec_django.ml.sequential import SequentialScorer

            sequential = SequentialScorer.from_arrays(arrays)
        return cls(
            transition_item_ids=ids,
            transitions=table,
            sequential_item_ids=np.asarray(arrays["sequential_item_ids"]) if sequential is not None else None,
            sequential=sequential,
        )

    def describe(self) -> dict[str, Any]:
        """What was fitted, for the model's record (the admin shows it)."""
        out: dict[str, Any] = {}
        if self.transitions is not None:
            out["transitions"] = {"items": len(self.transition_item_ids), "pairs": int(self.transitions.nnz)}
        if self.sequential is not None:
            report = dict(self.sequential.report)
            report.pop("epochs", None)
            out["sequential"] = report
        return out


def _pick(scores: np.ndarray | None, columns: Mapping[int, int], item_ids: Sequence[int]) -> np.ndarray:
    out = np.zeros(len(item_ids))
    if scores is None:
        return out
    for position, item_id in enumerate(item_ids):
        column = columns.get(int(item_id))
        if column is not None:
            out[position] = scores[column]
    return out


def fit_sequence_models(
    events: Interactions, vectors: tuple[np.ndarray, np.ndarray] | None, *, seed: int = 0
) -> SequenceModels:
    """Transitions and (when enabled and the data allow) the sequential model, from ``events``
    (``load_sequence_events``) and the catalogue's item vectors (``catalogue_vectors``)."""
    settings = llmrec_settings.TRANSITIONS
    ids, table = None, None
    if len(events.item_ids) and settings["ENABLED"]:
        ids, columns = np.unique(events.item_ids, return_inverse=True)
        _, rows = np.unique(events.user_ids, return_inverse=True)
        table = transitions.fit_transitions(
            rows, columns, events.times, len(ids), window=int(settings["WINDOW"]),
            neighbours=int(settings["NEIGHBOURS"]), shrink=float(settings["SHRINK"]),
        )  # fmt: skip
    sequential_ids, sequential = fit_sequential_model(events, vectors, seed=seed)
    return SequenceModels(ids, table, sequential_ids, sequential)


def fit_sequential_model(
    events: Interactions, vectors: tuple[np.ndarray, np.ndarray] | None, *, seed: int = 0
) -> tuple[np.ndarray | None, SequentialScorer | None]:
    """The sequential model over ``vectors``' items (``LLMREC["SEQUENTIAL"]``), or (None, None)
    when it is off, there are no vectors, or too few users have a sequence to learn from."""
    settings = llmrec_settings.SEQUENTIAL
    if not settings["ENABLED"]:
        return None, None
    from llmrec_django.ml.sequential import Sequences, SequentialConfig, fit_sequential

    config = SequentialConfig.from_settings(dict(settings["OPTIONS"]))
    if vectors is None and config.text:
        logger.info("No active embedding version: the sequential model is not fitted.")
        return None, None
    if vectors is None:
        ids = np.unique(events.item_ids)
        text = None
    else:
        ids, matrix = vectors
        text = np.vstack([np.zeros((1, matrix.shape[1]), dtype=np.float32), matrix]) if config.text else None
    row = {int(i): r + 1 for r, i in enumerate(ids.tolist())}
    items, times = [], []
    for user_items, user_times in user_sequences(events).values():
        keep = [j for j, i in enumerate(user_items.tolist()) if i in row]
        if len(keep) >= 2:
            items.append(np.array([row[int(user_items[j])] for j in keep], dtype=np.int64))
            times.append(user_times[keep])
    if len(items) < int(settings["MIN_USERS"]):
        logger.info(
            "%d users with a sequence (< %s): the sequential model is not fitted.", len(items), settings["MIN_USERS"]
        )
        return None, None
    scorer = fit_sequential(
        Sequences(items, times), text, config, seed=seed, budget_seconds=float(settings["BUDGET_SECONDS"]),
        n_items=len(ids),
    )  # fmt: skip
    return (ids, scorer) if scorer is not None else (None, None)
