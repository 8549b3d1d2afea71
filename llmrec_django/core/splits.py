"""Train / validation / test splits of interaction logs, and the user-item matrix.

Interactions are parallel arrays, one row per event: user index, item index, timestamp (and
optionally a value). Splits return three arrays of row indices into them, so any other column
(values, event types) can be split the same way::

    from llmrec_django.core.splits import interaction_matrix, random_split, temporal_leave_last_out

    train, valid, test = temporal_leave_last_out(users, items, times, n_test=1, n_valid=1)
    train, valid, test = random_split(users, ratios=(0.8, 0.1, 0.1), seed=0)
    train_matrix = interaction_matrix(users[train], items[train], n_users, n_items)

Both splits are per user, so every user with enough history appears in all three parts, and both
are deterministic: the temporal one by construction, the random one for a given seed (and row
order). Index arrays come back sorted.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

Split = tuple[np.ndarray, np.ndarray, np.ndarray]


def _rank_within_user(sorted_users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by user: each row's 0-based position inside its user's run, and the run's size."""
    n = len(sorted_users)
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]][:n])
    sizes = np.diff(np.r_[starts, n])
    run_start = np.repeat(starts, sizes)
    return np.arange(n) - run_start, np.repeat(sizes, sizes)


def _split_by_position(order: np.ndarray, position: np.ndarray, n_test: np.ndarray, n_valid: np.ndarray) -> Split:
    """Rows at positions [0, n_test) go to test, [n_test, n_test + n_valid) to valid, the rest to train."""
    is_test = position < n_test
    is_valid = ~is_test & (position < n_test + n_valid)
    is_train = ~(is_test | is_valid)
    return np.sort(order[is_train]), np.sort(order[is_valid]), np.sort(order[is_test])


def temporal_leave_last_out(
    users: ArrayLike,
    items: ArrayLike,
    times: ArrayLike,
    n_test: int = 1,
    n_valid: int = 1,
) -> Split:
    """Each user's last ``n_test`` interactions go to test, the ``n_valid`` before them to validation.

    Users with fewer than ``n_test + n_valid + 1`` interactions stay entirely in train (they must
    keep at least one training interaction to be scored at all). Events at the same time are
    ordered by item index, then by row, so ties never make the split depend on sort stability;
    every test event is at least as recent as all of that user's training events.
    """
    users = np.asarray(users)
    # Sort newest first within each user: lexsort's last key is the primary one.
    n = len(users)
    order = np.lexsort((-np.arange(n), -np.asarray(items, dtype=np.int64), -np.asarray(times, dtype=np.float64), users))
    position, size = _rank_within_user(users[order])
    enough = size >= n_test + n_valid + 1
    return _split_by_position(order, position, np.where(enough, n_test, 0), np.where(enough, n_valid, 0))


def random_split(
    users: ArrayLike,
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    min_interactions: int = 3,
) -> Split:
    """Per user, shuffle the interactions and cut them by ``ratios`` (train, valid, test).

    A user with ``n`` interactions gives ``max(1, floor(valid_ratio * n))`` to validation and
    ``max(1, floor(test_ratio * n))`` to test (a zero ratio gives none), the rest to train; users
    with fewer than ``min_interactions`` stay entirely in train. The shuffle comes from
    ``numpy.random.default_rng(seed)``: the same rows in the same order give the same split.
    """
    users = np.asarray(users)
    _, valid_ratio, test_ratio = ratios
    if min(ratios) < 0 or not np.isclose(sum(ratios), 1.0):
        raise ValueError(f"ratios must be non-negative and sum to 1, got {ratios}")
    keys = np.random.default_rng(seed).random(len(users))
    order = np.lexsort((keys, users))
    position, size = _rank_within_user(users[order])

    def part(ratio: float) -> np.ndarray:
        return np.maximum(np.floor(ratio * size), 1).astype(np.int64) if ratio > 0 else np.zeros_like(size)

    enough = size >= min_interactions
    n_test = np.where(enough, part(test_ratio), 0)
    n_valid = np.where(enough, part(valid_ratio), 0)
    return _split_by_position(order, position, n_test, n_valid)


def interaction_matrix(
    users: ArrayLike,
    items: ArrayLike,
    n_users: int,
    n_items: int,
    weights: ArrayLike | None = None,
) -> scipy.sparse.csr_matrix:
    """The ``n_users x n_items`` CSR matrix of interactions (float32), ones unless ``weights`` given.

    Repeated (user, item) pairs are summed, so a user who bought an item twice counts it twice;
    binarise with ``matrix.data[:] = 1`` where only presence matters.
    """
    users = np.asarray(users, dtype=np.int64)
    values = np.ones(len(users), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
    matrix = scipy.sparse.csr_matrix((values, (users, np.asarray(items, dtype=np.int64))), shape=(n_users, n_items))
    matrix.sum_duplicates()
    return matrix
