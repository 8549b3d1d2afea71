"""The sequential user model learns what comes next from order alone, and from text alone."""

import numpy as np
import pytest

from llmrec_django.ml.sequential import (
    Sequences,
    SequentialConfig,
    SequentialScorer,
    fit_sequential,
    gap_bucket,
    window_arrays,
)

SMALL = dict(max_length=8, dimension=16, heads=2, layers=1, dropout=0.0, batch_size=32, max_epochs=60, patience=60)


def cycle_data(n_users=60, n_items=12, length=10, seed=0):
    """Each user walks the items in a fixed cycle (i -> i + 1) from a random start: the next item
    is certain from the last one, and no co-occurrence model can tell it (every user sees all)."""
    rng = np.random.default_rng(seed)
    items, times = [], []
    for _ in range(n_users):
        start = int(rng.integers(n_items))
        items.append(np.array([(start + j) % n_items + 1 for j in range(length)], dtype=np.int64))
        times.append(np.arange(length, dtype=np.float64) * 3600)
    return Sequences(items, times)


def test_window_and_gaps():
    padded, gaps = window_arrays(np.array([5, 6, 7]), np.array([0.0, 60.0, 60.0 + 7 * 60]), 5, 8)
    assert padded.tolist() == [0, 0, 5, 6, 7]
    assert gaps.tolist() == [0, 0, 0, 2, 4]  # 1 minute -> 1 + log2(2); 7 minutes -> 1 + log2(8)
    assert gap_bucket(np.array([0.0, 1e12]), 8).tolist() == [1, 7]


def test_ids_alone_learn_the_order():
    data = cycle_data()
    scorer = fit_sequential(data, None, SequentialConfig(text=False, time_gaps=False, **SMALL), seed=0)
    assert scorer.report["valid_ndcg@10"] > 0.9
    vector = scorer.user_vector([3, 4, 5], [0.0, 1.0, 2.0])
    scores = scorer.table @ vector
    scores[0] = -np.inf
    assert int(np.argmax(scores)) == 6


def test_text_alone_carries_the_order_to_items_it_never_trained_on():
    """Items are points on a circle (their 'text'); the next item is the next point. Items 1..10
    are trained on; 11 and 12 never are, and are still predicted after 10 and 11."""
    n = 12
    angles = 2 * np.pi * np.arange(n) / n
    text = np.vstack([np.zeros(2), np.column_stack([np.cos(angles), np.sin(angles)])]).astype(np.float32)
    rng = np.random.default_rng(1)
    items, times = [], []
    for _ in range(80):
        start = int(rng.integers(0, 4))
        items.append(np.arange(start + 1, start + 8, dtype=np.int64))  # never beyond item 10
        times.append(np.arange(7, dtype=np.float64))
    config = SequentialConfig(text=True, item_ids=False, experts=2, **SMALL)
    scorer = fit_sequential(Sequences(items, times), text, config, seed=0)
    for history, expected in (([8, 9, 10], 11), ([9, 10, 11], 12)):
        scores = scorer.table @ scorer.user_vector(history, [0.0, 1.0, 2.0])
        scores[[0, *history]] = -np.inf  # as served: what the user has is not recommended
        assert int(np.argmax(scores)) == expected


def test_saved_arrays_give_the_same_vectors():
    data = cycle_data(n_users=20)
    scorer = fit_sequential(data, None, SequentialConfig(text=False, **{**SMALL, "max_epochs": 2}), seed=0)
    again = SequentialScorer.from_arrays(scorer.to_arrays())
    np.testing.assert_allclose(again.table, scorer.table)
    a = scorer.user_vectors([[1, 2, 3], []], [[0, 1, 2], []])
    b = again.user_vectors([[1, 2, 3], []], [[0, 1, 2], []])
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not b[1].any(), "no items, no vector"
    assert again.user_vector([], []) is None
    assert SequentialScorer.from_arrays({}) is None


def test_sampled_softmax_also_learns():
    data = cycle_data()
    config = SequentialConfig(text=False, full_softmax_items=5, sampled_negatives=4, **SMALL)
    scorer = fit_sequential(data, None, config, seed=0)
    assert scorer.report["softmax"].startswith("sampled")
    assert scorer.report["valid_ndcg@10"] > 0.9


def test_options_are_checked():
    with pytest.raises(ValueError, match="text vectors, item ids"):
        SequentialConfig(text=False, item_ids=False)
    with pytest.raises(ValueError, match="Unknown sequential model option"):
        SequentialConfig.from_settings({"layer": 2})
    with pytest.raises(ValueError, match="multiple of heads"):
        SequentialConfig(dimension=10, heads=3)
    with pytest.raises(ValueError, match="pass them"):
        fit_sequential(cycle_data(n_users=3), None, SequentialConfig())
    assert fit_sequential(Sequences([np.array([1])], [np.array([0.0])]), None, SequentialConfig(text=False)) is None


def test_short_histories_in_a_deep_model_give_finite_vectors():
    """Padding positions have nothing to attend to; their NaN once spread through the second
    layer and made every short history's scores NaN, which a rank count took for a hit."""
    data = cycle_data(n_users=20)
    config = SequentialConfig(text=False, **{**SMALL, "layers": 3, "max_epochs": 2})
    scorer = fit_sequential(data, None, config, seed=0)
    vectors = scorer.user_vectors([[1], [1, 2], list(range(1, 13))], [[0], [0, 1], list(range(12))])
    assert np.isfinite(vectors).all()
    scorer.encoder.train()  # training mode takes another attention path
    assert np.isfinite(scorer.user_vectors([[1]], [[0]])).all()


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_trains_on_a_gpu_and_serves_on_the_cpu():
    data = cycle_data()
    config = SequentialConfig(text=False, time_gaps=False, device="cuda", **SMALL)
    scorer = fit_sequential(data, None, config, seed=0)
    assert scorer.report["device"].startswith("cuda") and scorer.report["valid_ndcg@10"] > 0.9
    assert next(scorer.encoder.parameters()).device.type == "cpu"
    assert np.isfinite(scorer.user_vector([3, 4, 5], [0.0, 1.0, 2.0])).all()
