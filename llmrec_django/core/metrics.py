"""Offline metrics for top-k recommendation lists.

Per-list metrics take one ranked list and the set of items the user actually interacted with in
the held-out data (binary relevance); ``evaluate_lists`` averages them over users::

    from llmrec_django.core.metrics import evaluate_lists, ndcg_at_k

    ndcg_at_k([7, 3, 9], {7, 9}, k=3)            # hits at ranks 1 and 3 of 2 relevant -> 0.92
    evaluate_lists({"ann": [7, 3, 9]}, {"ann": {7, 9}}, k=3, n_items=100)
    # {'precision@3': 0.667, 'recall@3': 1.0, ..., 'coverage@3': 0.03, 'users': 1}

Comparing two recommenders on the same users, ``per_list_values`` gives each user's figure and
``relative_gain_interval`` a paired bootstrap confidence interval of ``mean(b) / mean(a) - 1``:
with one held-out item per user, a few hundred users leave a gain of several percent within the
noise, and the interval says so.

Conventions, the usual ones of the literature (so figures compare with published baselines):

- only the first ``k`` recommended items count; a list shorter than ``k`` is not padded, but
  precision still divides by ``k`` (an empty slot is a miss);
- a user with no relevant item has no defined recall or NDCG: the per-list functions return 0.0
  for them, and ``evaluate_lists`` leaves them out of every average;
- NDCG uses binary gains and a log2 discount, ``DCG = sum(1 / log2(rank + 1))`` over hit ranks
  (1-based), normalised by the DCG of a perfect list of ``min(k, |relevant|)`` hits.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence

import numpy as np


def _hits(recommended: Sequence, relevant: Collection, k: int) -> np.ndarray:
    """1.0 where the item at that rank (within the first k) is relevant, else 0.0."""
    return np.array([1.0 if item in relevant else 0.0 for item in list(recommended)[:k]])


def precision_at_k(recommended: Sequence, relevant: Collection, k: int) -> float:
    """Share of the k slots filled with a relevant item."""
    return float(_hits(recommended, relevant, k).sum() / k) if k > 0 else 0.0


def recall_at_k(recommended: Sequence, relevant: Collection, k: int) -> float:
    """Share of the relevant items found in the first k; 0.0 when nothing is relevant."""
    if not relevant:
        return 0.0
    return float(_hits(recommended, relevant, k).sum() / len(relevant))


def f1_at_k(recommended: Sequence, relevant: Collection, k: int) -> float:
    """Harmonic mean of precision@k and recall@k (0.0 when both are 0)."""
    precision = precision_at_k(recommended, relevant, k)
    recall = recall_at_k(recommended, relevant, k)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def ndcg_at_k(recommended: Sequence, relevant: Collection, k: int) -> float:
    """Binary-gain NDCG with a log2 discount; the ideal list has min(k, |relevant|) hits."""
    hits = _hits(recommended, relevant, k)
    n_ideal = min(k, len(relevant))
    if n_ideal == 0:
        return 0.0
    dcg = float((hits / np.log2(np.arange(2, len(hits) + 2))).sum())
    idcg = float((1.0 / np.log2(np.arange(2, n_ideal + 2))).sum())
    return dcg / idcg


def hit_rate_at_k(recommended: Sequence, relevant: Collection, k: int) -> float:
    """1.0 when at least one of the first k items is relevant."""
    return float(_hits(recommended, relevant, k).any())


def mrr_at_k(recommended: Sequence, relevant: Collection, k: int) -> float:
    """Reciprocal (1-based) rank of the first relevant item within k; 0.0 when there is none."""
    hits = np.flatnonzero(_hits(recommended, relevant, k))
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def catalogue_coverage(lists: Iterable[Sequence], n_items: int) -> float:
    """Distinct items recommended across all lists, as a share of the catalogue."""
    if n_items <= 0:
        return 0.0
    distinct = set()
    for items in lists:
        distinct.update(items)
    return len(distinct) / n_items


def intra_list_diversity(list_vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance (1 - cosine) between the items of one list.

    ``list_vectors`` has one row per item of the list; rows need not be normalised. A list of
    fewer than two items has no pairs and a diversity of 0.0.
    """
    vectors = np.asarray(list_vectors, dtype=np.float64)
    n = len(vectors)
    if n < 2:
        return 0.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    similarity = unit @ unit.T
    # The sum over distinct pairs is the sum of the off-diagonal triangle, i.e. (total - trace) / 2.
    pair_similarity = (similarity.sum() - np.trace(similarity)) / 2
    return float(1.0 - pair_similarity / (n * (n - 1) / 2))


PER_LIST_METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "f1": f1_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
    "mrr": mrr_at_k,
}


def evaluate_lists(
    recommended: Mapping[Hashable, Sequence],
    relevant: Mapping[Hashable, Collection],
    k: int,
    n_items: int | None = None,
    item_vectors: np.ndarray | Mapping[Hashable, np.ndarray] | None = None,
) -> dict[str, float]:
    """Average every per-list metric over the users with at least one relevant item.

    Users without held-out items are left out rather than counted as zeros: their recall and NDCG
    are undefined, and counting them would make a figure depend on how many such users a data
    set happens to hold. A user with relevant items but no list counts as an empty list (zeros).

    ``coverage@k`` (with ``n_items``) is measured over the first k items of every list given, not
    only the evaluated users' lists: it describes what the recommender shows. ``diversity@k``
    (with ``item_vectors``, indexable by item: an array for integer ids or a mapping) is the mean
    intra-list diversity of the evaluated users' lists. ``users`` is how many users were averaged.
    """
    users = [user for user, items in relevant.items() if len(items) > 0]
    result: dict[str, float] = {}
    for name, metric in PER_LIST_METRICS.items():
        values = [metric(recommended.get(user, ()), relevant[user], k) for user in users]
        result[f"{name}@{k}"] = float(np.mean(values)) if values else 0.0
    if n_items is not None:
        result[f"coverage@{k}"] = catalogue_coverage((list(items)[:k] for items in recommended.values()), n_items)
    if item_vectors is not None:
        diversities = [
            intra_list_diversity(np.array([item_vectors[item] for item in list(recommended.get(user, ()))[:k]]))
            for user in users
        ]
        result[f"diversity@{k}"] = float(np.mean(diversities)) if diversities else 0.0
    result["users"] = len(users)
    return result


def per_list_values(
    recommended: Mapping[Hashable, Sequence], relevant: Mapping[Hashable, Collection], k: int, metric: str
) -> dict[Hashable, float]:
    """Each user's ``metric`` ("ndcg", "recall", ... : a key of ``PER_LIST_METRICS``) at k, for the
    users with at least one relevant item (those ``evaluate_lists`` averages over)."""
    if metric not in PER_LIST_METRICS:
        raise ValueError(f"{metric!r} is not a per-list metric; use one of {', '.join(PER_LIST_METRICS)}.")
    function = PER_LIST_METRICS[metric]
    return {user: function(recommended.get(user, ()), items, k) for user, items in relevant.items() if len(items) > 0}


def relative_gain_interval(
    baseline: Sequence[float],
    candidate: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """A paired bootstrap interval of the relative gain ``mean(candidate) / mean(baseline) - 1``.

    ``baseline[i]`` and ``candidate[i]`` are the same user's figures (``per_list_values`` of both
    recommenders, same users, same order); users are resampled with replacement, keeping each
    user's pair together, and the interval is the percentile one (``scipy.stats.bootstrap``).
    None when there are fewer than two users or the baseline's mean is 0 (no relative gain).
    """
    import scipy.stats

    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("baseline and candidate need one figure per user each, in the same order.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, not {confidence!r}.")
    if len(a) < 2 or a.mean() <= 0:
        return None

    def gain(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return y.mean(axis=axis) / x.mean(axis=axis) - 1.0

    if np.array_equal(a, b):
        return (0.0, 0.0)  # every resample gives exactly 0; scipy would warn about a degenerate sample
    result = scipy.stats.bootstrap(
        (a, b),
        gain,
        paired=True,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return (low, high) if np.isfinite(low) and np.isfinite(high) else None


def recall_on_items(
    recommended: Mapping[Hashable, Sequence],
    relevant: Mapping[Hashable, Collection],
    item_subset: Collection,
    k: int | None = None,
) -> float:
    """Recall restricted to held-out items of a subset, e.g. cold items (no training interactions).

    For each user, the relevant items are cut down to those in ``item_subset``; users left with
    none are skipped, and the result is the mean over the others of the share of those items found
    in the user's list (its first ``k`` items when ``k`` is given). 0.0 when no user qualifies.

    This is recall@k as ``recall_at_k`` computes it, averaged over users the same way, with the
    held-out items outside the subset ignored: the lists rank the whole catalogue, so a subset
    item has to win one of the k places against every other item (the "all items" protocol of
    cold-start evaluations, not a ranking among the subset's items only). ``hits_on_items``
    gives the pooled count behind it.
    """
    subset = set(item_subset)
    values = []
    for user, items in relevant.items():
        targets = subset.intersection(items)
        if not targets:
            continue
        values.append(len(targets.intersection(_first(recommended.get(user, ()), k))) / len(targets))
    return float(np.mean(values)) if values else 0.0


def hits_on_items(
    recommended: Mapping[Hashable, Sequence],
    relevant: Mapping[Hashable, Collection],
    item_subset: Collection,
    k: int | None = None,
) -> dict[str, int]:
    """The counts behind ``recall_on_items``: ``users`` with at least one held-out item of the
    subset (its denominator), ``pairs`` (user, held-out subset item) and ``hits``, the pairs found
    in the user's first ``k`` items (``hits / pairs`` is the recall pooled over pairs)."""
    subset = set(item_subset)
    users = pairs = hits = 0
    for user, items in relevant.items():
        targets = subset.intersection(items)
        if targets:
            users += 1
            pairs += len(targets)
            hits += len(targets.intersection(_first(recommended.get(user, ()), k)))
    return {"users": users, "pairs": pairs, "hits": hits}


def _first(items: Sequence, k: int | None) -> list:
    return list(items) if k is None else list(items)[:k]
