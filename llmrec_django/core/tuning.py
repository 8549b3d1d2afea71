"""Choosing a collaborative model's settings on a site's own data, within a time budget.

Usage::

    from llmrec_django.core import tuning

    train, targets = tuning.hold_out_latest(user_rows, item_columns, times, n_users, n_items, weights)
    best, figures = tuning.coordinate_search(
        lambda p: ImplicitALS(**p), {"factors": 64, "alpha": 1.0}, {"alpha": [5.0, 20.0], "factors": [32, 128]},
        train, targets, budget_seconds=60,
    )

``hold_out_latest`` keeps, for each user with at least two items, the item they came to last
(its first event) out of the training matrix; ``coordinate_search`` tries one parameter at a
time on the rest, measuring NDCG@10 of the held-out item in a full ranking (training items
masked), until the options or the budget are spent; the starting setting always runs, so a
site always gets one. Every figure is returned, for the record the admin shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

from llmrec_django.core.baselines import BLOCK_CELLS, Recommender


def hold_out_latest(
    user_rows: ArrayLike,
    item_columns: ArrayLike,
    times: ArrayLike,
    n_users: int,
    n_items: int,
    weights: ArrayLike | None = None,
) -> tuple[scipy.sparse.csr_matrix, dict[int, int]]:
    """The training matrix without each user's latest new item, and ``{user row: that item}``."""
    users = np.asarray(user_rows, dtype=np.int64)
    items = np.asarray(item_columns, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    weights = np.ones(len(users)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.lexsort((times, users))
    first: dict[tuple[int, int], float] = {}
    for row in order.tolist():
        first.setdefault((int(users[row]), int(items[row])), float(times[row]))
    latest: dict[int, tuple[float, int]] = {}
    count: dict[int, int] = {}
    for (user, item), when in first.items():
        count[user] = count.get(user, 0) + 1
        if user not in latest or when >= latest[user][0]:
            latest[user] = (when, item)
    targets = {u: item for u, (_, item) in latest.items() if count[u] >= 2}
    keep = np.array([targets.get(int(u)) != int(i) for u, i in zip(users, items, strict=True)], dtype=bool)
    matrix = scipy.sparse.csr_matrix((weights[keep], (users[keep], items[keep])), shape=(n_users, n_items))
    matrix.sum_duplicates()
    return matrix, targets


def ndcg_at_10(model: Recommender, train: scipy.sparse.csr_matrix, targets: Mapping[int, int]) -> float:
    """Mean NDCG@10 of each user's held-out item in the model's full ranking, training items masked."""
    users = np.array(sorted(targets), dtype=np.int64)
    if not len(users):
        return 0.0
    batch = max(1, BLOCK_CELLS // max(train.shape[1], 1))
    values = []
    for start in range(0, len(users), batch):
        block = users[start : start + batch]
        scores = np.array(model.scores(block, train[block]), dtype=np.float64)
        history = train[block]
        scores[np.repeat(np.arange(len(block)), np.diff(history.indptr)), history.indices] = -np.inf
        target = np.array([targets[int(u)] for u in block])
        target_scores = scores[np.arange(len(block)), target]
        rank = (scores >= target_scores[:, None]).sum(axis=1) - 1
        values.append(np.where((rank < 10) & np.isfinite(target_scores), 1.0 / np.log2(rank + 2.0), 0.0))
    return float(np.mean(np.concatenate(values)))


def coordinate_search(
    make: Callable[[dict[str, Any]], Recommender],
    base: Mapping[str, Any],
    options: Mapping[str, Sequence[Any]],
    train: scipy.sparse.csr_matrix,
    targets: Mapping[int, int],
    *,
    budget_seconds: float,
    max_users: int = 2000,
    seed: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The best setting found from ``base`` by trying, one parameter at a time (in ``options``'
    order), each of its values with the others at their best so far; ``ndcg_at_10`` on (a seeded
    sample of ``max_users`` of) the held-out users. Stops when the budget is spent (``base``
    always runs). Returns the best setting and every setting tried, in order, with its figure."""
    sample = dict(targets)
    if len(sample) > max_users:
        chosen = np.random.default_rng(seed).choice(sorted(sample), size=max_users, replace=False)
        sample = {int(u): sample[int(u)] for u in chosen}
    started = time.perf_counter()
    figures: list[dict[str, Any]] = []

    def measure(params: dict[str, Any]) -> float:
        began = time.perf_counter()
        value = ndcg_at_10(make(dict(params)).fit(train), train, sample)
        figures.append(
            {"params": dict(params), "ndcg@10": round(value, 6), "seconds": round(time.perf_counter() - began, 2)}
        )
        return value

    best, best_value = dict(base), measure(dict(base))
    for name, values in options.items():
        for value in values:
            if value == best.get(name):
                continue
            if time.perf_counter() - started > budget_seconds:
                return best, figures
            trial = {**best, name: value}
            score = measure(trial)
            if score > best_value:
                best, best_value = trial, score
    return best, figures
