"""The offline evaluation's options, the tenant's event log and its split into training,
validation and test (step 1 of the protocol in ``llmrec_django.learning.evaluation``)."""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.interest import event_weights
from llmrec_django.core.splits import random_split, temporal_leave_last_out
from llmrec_django.models import (
    Interaction,
    Tenant,
)

logger = logging.getLogger(__name__)

HYBRID = "hybrid"
HYBRID_NO_MMR = "hybrid_no_mmr"  # the same lists before the diversity re-ranking (MMR lambda 1)
BASELINES = ("most_popular", "item_knn", "als")
SPLITS = ("temporal", "random")
SCRATCH_SUFFIX = "-eval"
# Context values that no event and no rule can match: a request "without context" that does
# not fall back to the wall clock's time of day (which would make runs differ by the hour).
NO_CONTEXT = {"time_of_day": "unspecified"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvaluationOptions:
    k: int = 10
    split: str = "temporal"  # "temporal" or "random"
    test_events: int = 1  # temporal: each user's last N positive interactions are held out
    test_fraction: float | None = None  # temporal: hold out each user's last share instead (at least one)
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)  # random: train, validation, test
    seed: int = 0
    reuse_vectors: bool = False  # copy the source's active item vectors instead of re-embedding
    cold_user_max: int = 5  # users with at most this many positive training interactions are "cold"
    mmr_lambda: float | None = None  # None: the service's LLMREC["MMR_LAMBDA"]
    use_context: bool = True  # send the held-out event's context with each request
    also_without_mmr: bool = False  # also evaluate the hybrid with MMR off ("hybrid_no_mmr")
    max_users: int | None = None  # evaluate a seeded sample of the users with held-out items
    keep_scratch: bool = False  # leave the scratch tenant in place afterwards (to inspect it)
    scratch_slug: str | None = None  # default "<tenant>-eval"
    vectors_version: int | None = None  # with reuse_vectors: this version's vectors (and encoder), not the active one

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.k <= 0:
            raise ValueError("k must be positive")
        if self.test_events < 1:
            raise ValueError("test_events must be at least 1")
        if self.test_fraction is not None and not 0 < self.test_fraction < 1:
            raise ValueError("test_fraction must lie in (0, 1)")

    def describe_split(self) -> dict[str, Any]:
        if self.split == "random":
            return {"scheme": "random", "ratios": list(self.ratios), "seed": self.seed}
        if self.test_fraction is not None:
            return {"scheme": "temporal", "test_fraction": self.test_fraction}
        return {"scheme": "temporal", "test_events": self.test_events}


# ---------------------------------------------------------------------------------------------
# The log and its split


@dataclass
class EventLog:
    """Every interaction of a tenant as parallel arrays (database ids), oldest first."""

    ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray  # the service's confidence: EVENT_WEIGHTS signed by ratings, no decay
    times: np.ndarray  # Unix seconds
    stamps: list[datetime]
    devices: list[str]
    locations: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def positive(self) -> np.ndarray:
        return self.weights > 0


def load_log(tenant: Tenant) -> EventLog:
    """The tenant's interactions (one query), with the weights ``collaborative`` gives them."""
    rows = list(
        Interaction.objects.for_tenant(tenant)
        .order_by("timestamp", "pk")
        .values_list("pk", "user_id", "item_id", "event_type", "value", "timestamp", "device", "location")
    )
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return EventLog(empty, empty, empty, np.zeros(0), np.zeros(0), [], [], [])
    ids, users, items, types, values, stamps, devices, locations = zip(*rows, strict=True)
    weights = event_weights(list(types), list(values), np.zeros(len(rows)), llmrec_settings.EVENT_WEIGHTS, 0.0)
    return EventLog(
        ids=np.asarray(ids, dtype=np.int64),
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        weights=np.asarray(weights, dtype=np.float64),
        times=np.array([s.timestamp() for s in stamps], dtype=np.float64),
        stamps=list(stamps),
        devices=list(devices),
        locations=list(locations),
    )


@dataclass
class EvaluationSplit:
    """Row indices into an ``EventLog``, and the held-out (user, item) pairs.

    ``train``: the events the scratch tenant receives; ``valid``: events of the random split's
    validation pairs, neither trained on nor tested, masked at test time like the training
    history; ``test``: every event on a held-out pair. ``relevant``: user -> held-out items.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    relevant: dict[int, set[int]]


def _temporal_last_share(users: np.ndarray, items: np.ndarray, times: np.ndarray, share: float):
    """Each user's last ``max(1, floor(share * n))`` rows to test (users with one row stay in train),
    with ``temporal_leave_last_out``'s tie order (newer first, then higher item, then later row)."""
    n = len(users)
    order = np.lexsort((-np.arange(n), -items, -times, users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]]) if n else np.zeros(0, dtype=int)
    sizes = np.diff(np.r_[starts, n])
    position = np.arange(n) - np.repeat(starts, sizes)
    size = np.repeat(sizes, sizes)
    n_test = np.where(size >= 2, np.maximum(np.floor(share * size), 1), 0)
    is_test = position < n_test
    return np.sort(order[~is_test]), np.zeros(0, dtype=np.int64), np.sort(order[is_test])


TRAIN, VALID, TEST = 0, 1, 2


def split_log(log: EventLog, options: EvaluationOptions) -> EvaluationSplit:
    """Split per user the distinct (user, item) pairs with a positive event, then place every event.

    Splitting pairs rather than events keeps a held-out item new to the user: a view followed by
    a purchase of the same item are held out together, never one in training and one in test.
    A pair's time is its first positive event. Every event on a held-out pair is held out; in the
    temporal split, events after the user's earliest held-out pair are dropped (the future).
    """
    positive = np.flatnonzero(log.positive)
    pairs, first = np.unique(np.column_stack([log.users[positive], log.items[positive]]), axis=0, return_index=True)
    pair_users, pair_items = pairs[:, 0], pairs[:, 1]
    pair_times = log.times[positive[first]]
    if options.split == "random":
        train, valid, test = random_split(pair_users, ratios=options.ratios, seed=options.seed)
    elif options.test_fraction is not None:
        train, valid, test = _temporal_last_share(pair_users, pair_items, pair_times, options.test_fraction)
    else:
        train, valid, test = temporal_leave_last_out(
            pair_users, pair_items, pair_times, n_test=options.test_events, n_valid=0
        )
    role = np.full(len(pairs), TRAIN)
    role[valid], role[test] = VALID, TEST
    role_of = {(int(u), int(i)): int(r) for u, i, r in zip(pair_users, pair_items, role, strict=True)}
    event_role = np.array(
        [role_of.get((u, i), TRAIN) for u, i in zip(log.users.tolist(), log.items.tolist(), strict=True)], dtype=int
    )
    keep = event_role == TRAIN
    if options.split == "temporal":
        cutoff: dict[int, float] = {}
        for user, stamp in zip(pair_users[test].tolist(), pair_times[test].tolist(), strict=True):
            cutoff[user] = min(stamp, cutoff.get(user, np.inf))
        # Ties at the cutoff stay, as in temporal_leave_last_out: the held-out pairs are the latest.
        keep &= log.times <= np.array([cutoff.get(u, np.inf) for u in log.users.tolist()])
    relevant: dict[int, set[int]] = defaultdict(set)
    for user, item in zip(pair_users[test].tolist(), pair_items[test].tolist(), strict=True):
        relevant[user].add(item)
    return EvaluationSplit(
        train=np.flatnonzero(keep),
        valid=np.flatnonzero(event_role == VALID),
        test=np.flatnonzero(event_role == TEST),
        relevant=dict(relevant),
    )
