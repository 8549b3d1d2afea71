"""Item-to-item transitions: what people go on to after an item (the next volume, the refill,
the accessory after the device).

Usage::

    from llmrec_django.core import transitions

    table = transitions.fit_transitions(user_rows, item_columns, times, n_items)   # csr (n, n)
    scores = transitions.score_from_recent(table, [latest, before, ...])        # (n,)

``fit_transitions`` counts, in each user's time-ordered events, each pair (i, then j) where j
comes within ``window`` steps after i, the step ``s`` counting ``decay ** (s - 1)``; a row is
divided by the item's total outgoing count plus ``shrink`` (so that an item followed once by j
does not claim a certainty it has not earned), and only its ``neighbours`` strongest
transitions are kept. Repeats of an item (j == i) are not transitions.

``score_from_recent`` sums the rows of the user's latest items, the r-th latest weighted by
``recent_decay ** r``: what usually comes next after what the user just did.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

DEFAULT_WINDOW = 3
DEFAULT_DECAY = 0.5
DEFAULT_SHRINK = 5.0
DEFAULT_NEIGHBOURS = 50
DEFAULT_RECENT_DECAY = 0.5


def fit_transitions(
    user_rows: ArrayLike,
    item_columns: ArrayLike,
    times: ArrayLike,
    n_items: int,
    *,
    window: int = DEFAULT_WINDOW,
    decay: float = DEFAULT_DECAY,
    shrink: float = DEFAULT_SHRINK,
    neighbours: int = DEFAULT_NEIGHBOURS,
) -> scipy.sparse.csr_matrix:
    """The ``(n_items, n_items)`` transition table from events (one row per event, any order)."""
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window!r}")
    if shrink < 0 or not 0 < decay <= 1:
        raise ValueError("shrink must be >= 0 and decay in (0, 1]")
    users = np.asarray(user_rows, dtype=np.int64)
    items = np.asarray(item_columns, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    if not (len(users) == len(items) == len(times)):
        raise ValueError("user_rows, item_columns and times need one value per event each")
    order = np.lexsort((times, users))
    users, items = users[order], items[order]
    # Consecutive repeats of one item are one step (a view then a purchase of the same item).
    keep = np.ones(len(items), dtype=bool)
    keep[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    users, items = users[keep], items[keep]
    sources, targets, values = [], [], []
    for step in range(1, window + 1):
        if len(items) <= step:
            break
        same = (users[step:] == users[:-step]) & (items[step:] != items[:-step])
        sources.append(items[:-step][same])
        targets.append(items[step:][same])
        values.append(np.full(int(same.sum()), decay ** (step - 1)))
    if not sources:
        return scipy.sparse.csr_matrix((n_items, n_items))
    counts = scipy.sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(sources), np.concatenate(targets))), shape=(n_items, n_items)
    )
    counts.sum_duplicates()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    table = scipy.sparse.diags(1.0 / (totals + shrink + (totals == 0))) @ counts
    return _keep_strongest(scipy.sparse.csr_matrix(table), neighbours)


def _keep_strongest(table: scipy.sparse.csr_matrix, neighbours: int) -> scipy.sparse.csr_matrix:
    """Each row's ``neighbours`` largest entries (ties: the lower column)."""
    indptr, indices, data = table.indptr, table.indices, table.data
    rows, columns, values = [], [], []
    for row in np.flatnonzero(np.diff(indptr)):
        start, end = indptr[row], indptr[row + 1]
        part = data[start:end]
        best = np.lexsort((indices[start:end], -part))[:neighbours]
        rows.append(np.full(len(best), row))
        columns.append(indices[start:end][best])
        values.append(part[best])
    if not rows:
        return scipy.sparse.csr_matrix(table.shape)
    out = scipy.sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=table.shape
    )
    out.sort_indices()
    return out


def score_from_recent(
    table: scipy.sparse.csr_matrix, recent: Sequence[int], recent_decay: float = DEFAULT_RECENT_DECAY
) -> np.ndarray:
    """Transition score of every item after the user's ``recent`` item columns, latest first."""
    scores = np.zeros(table.shape[1])
    for rank, column in enumerate(recent):
        row = table.getrow(int(column))
        scores[row.indices] += (recent_decay**rank) * row.data
    return scores
