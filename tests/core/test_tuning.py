import numpy as np
import pytest

from llmrec_django.core.baselines import ItemKNN, MostPopular
from llmrec_django.core.tuning import coordinate_search, hold_out_latest, ndcg_at_10


def test_hold_out_latest_keeps_each_users_newest_item_out():
    users = [0, 0, 0, 1, 2, 2]
    items = [1, 2, 1, 0, 3, 0]
    times = [1, 2, 3, 1, 5, 4]
    train, targets = hold_out_latest(users, items, times, 3, 4)
    assert targets == {0: 2, 2: 3}, "item 1 again at t=3 is not new; user 1 has one item only"
    assert train.toarray().tolist() == [[0, 2, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]


def two_groups(n_users=40, seed=0):
    """Two tastes: users of group g like items 5g..5g+4; each user's latest is one of their group."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        group = u % 2
        chosen = rng.permutation(5)[:4] + 5 * group
        for t, i in enumerate(chosen):
            users.append(u)
            items.append(int(i))
            times.append(t)
    # a blockbuster everybody has seen first, so that popularity alone cannot find the group
    for u in range(n_users):
        users.append(u)
        items.append(10)
        times.append(-1)
    return hold_out_latest(users, items, times, n_users, 11)


def test_ndcg_measures_a_taste_model_above_popularity():
    train, targets = two_groups()
    knn = ndcg_at_10(ItemKNN(k=10).fit(train), train, targets)
    pop = ndcg_at_10(MostPopular().fit(train), train, targets)
    assert knn > pop and knn > 0.5


def test_coordinate_search_keeps_the_better_value_and_records_every_trial():
    train, targets = two_groups()
    best, figures = coordinate_search(
        lambda p: ItemKNN(k=int(p["k"])), {"k": 1}, {"k": [1, 10]}, train, targets, budget_seconds=60
    )
    assert best == {"k": 10}
    assert [f["params"]["k"] for f in figures] == [1, 10], "the value already best is not fitted twice"
    assert figures[1]["ndcg@10"] > figures[0]["ndcg@10"]


def test_a_spent_budget_still_fits_the_starting_setting():
    train, targets = two_groups()
    best, figures = coordinate_search(
        lambda p: ItemKNN(k=int(p["k"])), {"k": 1}, {"k": [5, 10]}, train, targets, budget_seconds=0
    )
    assert best == {"k": 1} and len(figures) == 1


def test_no_held_out_user_scores_zero():
    train, targets = hold_out_latest([0], [0], [0], 1, 1)
    assert targets == {}
    assert ndcg_at_10(MostPopular().fit(train), train, targets) == pytest.approx(0.0)
