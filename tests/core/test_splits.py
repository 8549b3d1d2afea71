"""Train / validation / test splits: partitions, per-user temporal order, ratios, determinism."""

import numpy as np
import pytest

from llmrec_django.core.splits import interaction_matrix, random_split, temporal_leave_last_out


@pytest.fixture
def log():
    """Users 0..4 with 1, 2, 3, 10 and 25 interactions, in shuffled row order, random times."""
    rng = np.random.default_rng(7)
    counts = [1, 2, 3, 10, 25]
    users = np.repeat(np.arange(len(counts)), counts)
    items = np.concatenate([rng.permutation(100)[:count] for count in counts])
    times = rng.integers(0, 1_000, len(users)).astype(float)
    shuffle = rng.permutation(len(users))
    return users[shuffle], items[shuffle], times[shuffle]


def assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == n, "every row is in exactly one part"
    assert np.array_equal(np.sort(joined), np.arange(n))
    for part in parts:
        assert np.all(np.diff(part) > 0), "index arrays come back sorted"


def per_user(users, index):
    return np.bincount(users[index], minlength=users.max() + 1).tolist()


def test_temporal_split_holds_out_each_users_latest(log):
    users, items, times = log
    train, valid, test = temporal_leave_last_out(users, items, times, n_test=1, n_valid=1)
    assert_partition((train, valid, test), len(users))
    # Users with fewer than 3 interactions stay whole in train.
    assert per_user(users, test) == [0, 0, 1, 1, 1]
    assert per_user(users, valid) == [0, 0, 1, 1, 1]
    for user in (2, 3, 4):
        latest_train = times[train][users[train] == user].max()
        (valid_time,) = times[valid][users[valid] == user]
        (test_time,) = times[test][users[test] == user]
        assert latest_train <= valid_time <= test_time


def test_temporal_split_takes_several_and_needs_one_left_for_train(log):
    users, items, times = log
    train, valid, test = temporal_leave_last_out(users, items, times, n_test=2, n_valid=1)
    assert per_user(users, test) == [0, 0, 0, 2, 2]  # user 2 has 3 = 2 + 1 + 0 left: stays in train
    assert per_user(users, valid) == [0, 0, 0, 1, 1]


def test_temporal_ties_are_broken_by_item_whatever_the_row_order():
    users = np.array([0, 0, 0, 0])
    items = np.array([5, 3, 9, 1])
    times = np.array([1.0, 2.0, 2.0, 2.0])  # three events at the same time
    train, valid, test = temporal_leave_last_out(users, items, times)
    # At equal times the higher item index counts as later: 9 is the test item, 3 the validation one.
    assert items[test].tolist() == [9] and items[valid].tolist() == [3]
    reverse = np.arange(4)[::-1]
    train2, valid2, test2 = temporal_leave_last_out(users[reverse], items[reverse], times[reverse])
    assert items[reverse][test2].tolist() == [9] and items[reverse][valid2].tolist() == [3]


def test_random_split_ratios_per_user():
    counts = [2, 3, 20, 25]
    users = np.repeat(np.arange(4), counts)
    train, valid, test = random_split(users, ratios=(0.8, 0.1, 0.1), seed=0)
    assert_partition((train, valid, test), len(users))
    # 2: too few, all train; 3: one of each; 20: floor(2.0) = 2; 25: floor(2.5) = 2.
    assert per_user(users, train) == [2, 1, 16, 21]
    assert per_user(users, valid) == [0, 1, 2, 2]
    assert per_user(users, test) == [0, 1, 2, 2]


def test_random_split_is_deterministic_for_a_seed(log):
    users = log[0]
    first = random_split(users, seed=3)
    again = random_split(users, seed=3)
    other = random_split(users, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[2], other[2])


def test_random_split_refuses_ratios_that_do_not_sum_to_one():
    with pytest.raises(ValueError):
        random_split(np.zeros(5, dtype=int), ratios=(0.8, 0.3, 0.1))


def test_interaction_matrix_sums_repeats_and_takes_weights():
    matrix = interaction_matrix([0, 0, 1, 0], [2, 2, 0, 1], n_users=3, n_items=4)
    assert matrix.shape == (3, 4) and matrix.dtype == np.float32
    assert matrix.toarray().tolist() == [[0, 1, 2, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    weighted = interaction_matrix([0, 1], [1, 1], 2, 2, weights=[0.5, 3.0])
    assert weighted.toarray().tolist() == [[0, 0.5], [0, 3.0]]
