"""Collaborative baselines: every recommender passes the same contract on two obvious taste groups."""

import numpy as np
import pytest
import scipy.sparse

from llmrec_django.core import baselines
from llmrec_django.core.baselines import ImplicitALS, ImplicitBPR, ItemKNN, MostPopular, Recommender
from llmrec_django.core.splits import interaction_matrix

N_ITEMS = 12  # items 0-4: group A's, 5-9: group B's, 10-11: nobody's


@pytest.fixture(scope="module")
def two_groups():
    """Users 0-5 like items 0-4 and users 6-11 like items 5-9; user u (u < 5) lacks item u and
    user 6 + u lacks item 5 + u, so each of them has one obvious unseen item; users 5 and 11 have all."""
    users, items = [], []
    for group in (0, 1):
        for member in range(6):
            user = 6 * group + member
            for offset in range(5):
                if offset != member:
                    users.append(user)
                    items.append(5 * group + offset)
    return interaction_matrix(users, items, n_users=12, n_items=N_ITEMS)


FACTORIES = {
    "ItemKNN": lambda: ItemKNN(k=4),
    "ALS": lambda: ImplicitALS(factors=4, regularization=0.5, iterations=15, seed=0),
    "BPR": lambda: ImplicitBPR(factors=8, learning_rate=0.05, iterations=200, seed=0),
}


@pytest.fixture(scope="module", params=list(FACTORIES))
def fitted(request, two_groups):
    return FACTORIES[request.param]().fit(two_groups)


# --- the contract every personalised recommender meets --------------------------------------------


def test_each_user_gets_their_groups_missing_item_first(fitted, two_groups):
    lacking = [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    ids, scores = fitted.recommend(lacking, two_groups[lacking], n=3)
    assert ids.shape == scores.shape == (10, 3)
    # User u lacks item u (group A), user 6 + u lacks item 5 + u (group B).
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert np.all(np.diff(scores, axis=1) <= 0), "best first"


def test_already_liked_items_are_filtered_unless_asked(fitted, two_groups):
    users = np.arange(12)
    ids, _ = fitted.recommend(users, two_groups, n=N_ITEMS)
    for user in users:
        liked = set(two_groups[user].indices)
        shown = {item for item in ids[user] if item >= 0}
        assert not liked & shown
        assert len(shown) == N_ITEMS - len(liked)
        assert (ids[user] == -1).sum() == len(liked), "rows short of n are padded with -1"
    unfiltered, _ = fitted.recommend(users, two_groups, n=N_ITEMS, filter_already_liked=False)
    assert sorted(unfiltered[0].tolist()) == list(range(N_ITEMS))


def test_filter_items_and_a_single_user(fitted, two_groups):
    ids, scores = fitted.recommend(0, two_groups[0], n=2, filter_items=[0])
    assert ids.shape == scores.shape == (2,)
    assert 0 not in ids.tolist()


def test_similar_items_stay_in_the_group(fitted):
    ids, scores = fitted.similar_items(0, n=4)
    assert 0 not in ids.tolist(), "an item is not listed as similar to itself"
    assert set(ids.tolist()) == {1, 2, 3, 4}
    assert np.all(np.diff(scores) <= 0)


def test_recommend_in_blocks_gives_the_same_lists(fitted, two_groups, monkeypatch):
    whole = fitted.recommend(np.arange(12), two_groups, n=5)
    monkeypatch.setattr(baselines, "BLOCK_CELLS", N_ITEMS * 5)  # five users per block
    blocked = fitted.recommend(np.arange(12), two_groups, n=5)
    assert np.array_equal(whole[0], blocked[0])
    assert np.allclose(whole[1], blocked[1])


def test_recommend_wants_one_row_per_user(fitted, two_groups):
    with pytest.raises(ValueError, match="one row per user"):
        fitted.recommend([0, 1], two_groups, n=3)


# --- each algorithm's own behaviour ---------------------------------------------------------------


def test_most_popular_orders_by_number_of_users_for_everyone():
    # item 2: 3 users, item 0: 2, items 1 and 3: 1 each (tie: lower index first), item 4: none.
    matrix = interaction_matrix([0, 1, 2, 0, 1, 1, 2], [2, 2, 2, 0, 0, 1, 3], 4, 5, weights=[1, 1, 1, 9, 9, 1, 1])
    model = MostPopular().fit(matrix)
    ids, scores = model.recommend([3], matrix[[3]], n=5)
    assert ids[0].tolist() == [2, 0, 1, 3, 4]
    assert scores[0].tolist() == [3, 2, 1, 1, 0]
    ids, _ = model.recommend([0], matrix[[0]], n=2)
    assert ids[0].tolist() == [1, 3], "user 0 has seen 2 and 0"
    assert model.similar_items(2, n=2)[0].tolist() == [0, 1]


def test_item_knn_similarity_is_the_cosine_of_user_sets(two_groups):
    model = ItemKNN(k=10).fit(two_groups)
    # Item 0 is liked by users {1..5}, item 1 by {0, 2..5}: 4 in common, 5 each -> 4 / (sqrt 5 sqrt 5).
    assert model.similarity[0, 1] == pytest.approx(4 / 5)
    assert model.similarity[0, 5] == 0.0
    ids, scores = model.similar_items(0, n=2)
    assert scores.tolist() == pytest.approx([0.8, 0.8])


def test_item_knn_keeps_k_neighbours_per_item_and_matches_brute_force(monkeypatch):
    rng = np.random.default_rng(0)
    matrix = scipy.sparse.csr_matrix((rng.random((40, 30)) < 0.2).astype(np.float32))
    monkeypatch.setattr(baselines, "BLOCK_CELLS", 30 * 7)  # several item blocks
    model = ItemKNN(k=3).fit(matrix)
    assert np.all(model.similarity.getnnz(axis=0) <= 3)

    dense = matrix.toarray()
    norms = np.linalg.norm(dense, axis=0)
    cosine = dense.T @ dense / np.where(np.outer(norms, norms) > 0, np.outer(norms, norms), 1)
    np.fill_diagonal(cosine, 0)
    for target in range(30):
        kept = model.similarity[:, target].toarray().ravel()
        # The kept neighbours are the target's 3 most similar items (up to ties at the boundary).
        assert np.all(kept[kept > 0] == pytest.approx(cosine[kept > 0, target]))
        assert np.sort(kept)[-3:] == pytest.approx(np.sort(cosine[:, target])[-3:])
    assert model.scores(np.arange(40), matrix) == pytest.approx(dense @ model.similarity.toarray())


def test_an_unfitted_recommender_says_so(two_groups):
    with pytest.raises(RuntimeError, match="not fitted"):
        ItemKNN().recommend([0], two_groups[[0]])


def test_every_recommender_is_a_recommender():
    assert all(isinstance(factory(), Recommender) for factory in FACTORIES.values())
    assert isinstance(MostPopular(), Recommender)
