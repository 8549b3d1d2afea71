"""Offline metrics, each checked against arithmetic written out by hand."""

import math
import subprocess
import sys

import numpy as np
import pytest

from llmrec_django.core.metrics import (
    catalogue_coverage,
    evaluate_lists,
    f1_at_k,
    hit_rate_at_k,
    hits_on_items,
    intra_list_diversity,
    mrr_at_k,
    ndcg_at_k,
    per_list_values,
    precision_at_k,
    recall_at_k,
    recall_on_items,
    relative_gain_interval,
)


def test_ranking_core_imports_neither_django_nor_torch():
    code = (
        "import sys, llmrec_django.core.metrics, llmrec_django.core.splits, "
        "llmrec_django.core.ranking, llmrec_django.core.baselines; "
        "bad = [m for m in ('django', 'torch', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Recommended [10, 20, 30, 40]; relevant {10, 30, 99}: hits at ranks 1 and 3, one relevant item missed.
LIST = [10, 20, 30, 40]
RELEVANT = {10, 30, 99}


def test_precision_recall_f1():
    assert precision_at_k(LIST, RELEVANT, 4) == pytest.approx(2 / 4)
    assert recall_at_k(LIST, RELEVANT, 4) == pytest.approx(2 / 3)
    assert f1_at_k(LIST, RELEVANT, 4) == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    # Only the first k count: at k=2 the hit at rank 3 is out.
    assert precision_at_k(LIST, RELEVANT, 2) == pytest.approx(1 / 2)
    assert recall_at_k(LIST, RELEVANT, 2) == pytest.approx(1 / 3)


def test_precision_divides_by_k_even_for_a_short_list():
    assert precision_at_k([10], RELEVANT, 5) == pytest.approx(1 / 5)


def test_ndcg_hits_at_ranks_one_and_three_of_two_relevant():
    assert ndcg_at_k([7, 3, 9], {7, 9}, 3) == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_ndcg_ideal_list_has_at_most_k_hits():
    # 5 relevant items but k = 2: the ideal DCG is that of 2 hits, so a hit at rank 2 scores:
    assert ndcg_at_k([0, 1], {1, 2, 3, 4, 5}, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k([1, 2], {1, 2, 3, 4, 5}, 2) == pytest.approx(1.0)


def test_hit_rate_and_mrr():
    assert hit_rate_at_k(LIST, RELEVANT, 4) == 1.0
    assert hit_rate_at_k(LIST, {40}, 3) == 0.0
    assert mrr_at_k([5, 6, 30, 10], RELEVANT, 4) == pytest.approx(1 / 3)  # first hit at rank 3
    assert mrr_at_k([5, 6, 30], RELEVANT, 2) == 0.0


def test_nothing_relevant_gives_zero_not_an_error():
    for metric in (precision_at_k, recall_at_k, f1_at_k, ndcg_at_k, hit_rate_at_k, mrr_at_k):
        assert metric(LIST, set(), 4) == 0.0


def test_catalogue_coverage_counts_distinct_items():
    assert catalogue_coverage([[1, 2], [2, 3]], 10) == pytest.approx(3 / 10)


def test_intra_list_diversity_is_mean_pairwise_cosine_distance():
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    # cosines: (1st, 2nd) 0, (1st, 3rd) 1/sqrt 2, (2nd, 3rd) 1/sqrt 2
    expected = ((1 - 0) + 2 * (1 - 1 / math.sqrt(2))) / 3
    assert intra_list_diversity(vectors) == pytest.approx(expected)
    assert intra_list_diversity(vectors[:1]) == 0.0
    assert intra_list_diversity(np.array([[1.0, 1.0], [2.0, 2.0]])) == pytest.approx(0.0)


def test_evaluate_lists_averages_over_users_with_something_relevant():
    recommended = {"ann": [1, 2], "bob": [3, 4], "cy": [5, 6]}
    relevant = {"ann": {1}, "bob": {9}, "cy": set(), "dee": {7}}
    result = evaluate_lists(recommended, relevant, k=2, n_items=10)
    # cy has nothing relevant and is left out; dee has no list and counts as a miss.
    assert result["users"] == 3
    assert result["recall@2"] == pytest.approx((1 + 0 + 0) / 3)
    assert result["precision@2"] == pytest.approx((1 / 2) / 3)
    assert result["ndcg@2"] == pytest.approx(1 / 3)
    assert result["mrr@2"] == pytest.approx(1 / 3)
    assert result["hit_rate@2"] == pytest.approx(1 / 3)
    # Coverage looks at every list shown, cy's included: items 1..6 of 10.
    assert result["coverage@2"] == pytest.approx(6 / 10)


def test_evaluate_lists_diversity_from_item_vectors():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    result = evaluate_lists({"a": [0, 1], "b": [0, 2]}, {"a": {0}, "b": {0}}, k=2, item_vectors=vectors)
    assert result["diversity@2"] == pytest.approx((1.0 + 0.0) / 2)


def test_cold_item_recall_looks_only_at_the_subset():
    recommended = {"a": [1, 2, 3], "b": [4, 5, 6], "c": [7]}
    relevant = {"a": {1, 100, 101}, "b": {4, 5}, "c": {7}}
    cold = {100, 101, 5, 7}
    # a: cold targets {100, 101}, none found -> 0; b: {5} found -> 1; c: {7} found -> 1.
    assert recall_on_items(recommended, relevant, cold) == pytest.approx(2 / 3)
    # With k = 1, b's item 5 (rank 2) no longer counts.
    assert recall_on_items(recommended, relevant, cold, k=1) == pytest.approx(1 / 3)
    assert recall_on_items(recommended, relevant, {999}) == 0.0


def test_hits_on_items_give_the_denominators_of_cold_item_recall():
    recommended = {"a": [1, 2, 3], "b": [4, 5, 6], "c": [7], "d": [8]}
    relevant = {"a": {1, 100, 101}, "b": {4, 5}, "c": {7}, "d": {8}}
    cold = {100, 101, 5, 7}
    # Users with a cold target: a (100, 101), b (5), c (7); d has none. Found: 5 and 7.
    assert hits_on_items(recommended, relevant, cold) == {"users": 3, "pairs": 4, "hits": 2}
    assert hits_on_items(recommended, relevant, cold, k=1) == {"users": 3, "pairs": 4, "hits": 1}
    assert hits_on_items(recommended, relevant, {999}) == {"users": 0, "pairs": 0, "hits": 0}


def test_per_list_values_give_each_evaluated_user_their_figure():
    lists = {"a": [1, 2], "b": [3], "c": [9]}
    relevant = {"a": {2}, "b": {4}, "c": set(), "d": {5}}
    values = per_list_values(lists, relevant, 2, "ndcg")
    assert values == {"a": pytest.approx(1 / math.log2(3)), "b": 0.0, "d": 0.0}  # "c" has nothing held out
    assert np.mean(list(values.values())) == pytest.approx(evaluate_lists(lists, relevant, 2)["ndcg@2"])
    with pytest.raises(ValueError, match="not a per-list metric"):
        per_list_values(lists, relevant, 2, "coverage")


def test_relative_gain_interval_is_paired_and_says_when_a_gain_is_noise():
    rng = np.random.default_rng(0)
    hits = (rng.random(600) < 0.1).astype(float)  # one held-out item per user: mostly zeros
    # A candidate that finds 30 more items than the baseline and loses none: clearly better.
    better = hits.copy()
    better[np.flatnonzero(hits == 0)[:30]] = 1.0
    gain = better.mean() / hits.mean() - 1
    low, high = relative_gain_interval(hits, better)
    assert 0 < low < gain < high
    # Another seed of the resampling gives about the same interval.
    assert relative_gain_interval(hits, better, seed=1) == pytest.approx((low, high), abs=0.05)
    # Three users swapped for three others: the same mean, an interval around 0.
    swapped = hits.copy()
    swapped[np.flatnonzero(hits == 1)[:3]] = 0.0
    swapped[np.flatnonzero(hits == 0)[:3]] = 1.0
    low, high = relative_gain_interval(hits, swapped)
    assert low < 0 < high
    assert relative_gain_interval(hits, hits) == (0.0, 0.0)
    assert relative_gain_interval([0.0, 0.0], [1.0, 1.0]) is None  # no baseline to be relative to
    with pytest.raises(ValueError, match="same order"):
        relative_gain_interval([1.0, 0.0], [1.0])
