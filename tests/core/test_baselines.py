"""Collaborative baselines: every recommender passes the same contract on two obvious taste groups."""

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llmrec_django.core import baselines
from llmrec_django.core.baselines import (
    ImplicitALS,
    ImplicitBPR,
    ItemKNN,
    MostPopular,
    Recommender,
    gpu_available,
    use_gpu_for,
)
from llmrec_django.core.splits import interaction_matrix
from tests.implicit_helpers import StandInGpuALS

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
    "ItemKNN, every core": lambda: ItemKNN(k=4, num_threads=0),
    "ALS": lambda: ImplicitALS(factors=4, regularization=0.5, iterations=15, seed=0),
    "ALS, every core": lambda: ImplicitALS(factors=4, regularization=0.5, iterations=15, seed=0, num_threads=0),
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


def brute_force_cosine(matrix: scipy.sparse.csr_matrix) -> np.ndarray:
    """The definition: cosine between the items' sets of users, an item against itself 0."""
    dense = (matrix.toarray() > 0).astype(np.float64)
    norms = np.linalg.norm(dense, axis=0)
    products = np.outer(norms, norms)
    cosine = dense.T @ dense / np.where(products > 0, products, 1)
    np.fill_diagonal(cosine, 0)
    return cosine


def assert_k_nearest(table: scipy.sparse.spmatrix, cosine: np.ndarray, k: int) -> None:
    """Column j of ``table`` holds j's k most similar items with their cosines (which of several
    equally similar items fills the last place is free), never j itself or a dissimilar item."""
    table = table.toarray()
    for j in range(cosine.shape[1]):
        kept = table[:, j]
        assert kept[j] == 0
        assert np.count_nonzero(kept) == min(k, np.count_nonzero(cosine[:, j]))
        assert kept[kept > 0] == pytest.approx(cosine[kept > 0, j], abs=1e-6)
        best = np.sort(cosine[:, j])[::-1][:k]
        assert np.sort(kept)[::-1][:k] == pytest.approx(best, abs=1e-6)


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    dense=arrays(
        np.float32, st.tuples(st.integers(1, 30), st.integers(2, 20)), elements=st.sampled_from([0.0, 0.0, 1.0, 2.5])
    ),
    k=st.integers(1, 6),
)
def test_item_knn_keeps_each_items_k_nearest_by_cosine(dense, k):
    """implicit's neighbour search gives the table the hand-written one did (the same weights,
    up to the choice among ties), for any matrix: empty items, identical items, confidences."""
    matrix = scipy.sparse.csr_matrix(dense)
    table = ItemKNN(k=k).fit(matrix).similarity
    assert table.dtype == np.float32 and table.shape == (dense.shape[1], dense.shape[1])
    assert_k_nearest(table, brute_force_cosine(matrix), k)


def test_item_knn_drops_itself_even_among_identical_items():
    # Items 0-4 have exactly the same users (cosine 1 to each other and to themselves), item 5 others.
    users = [u for u in range(4) for _ in range(5)] + [4, 5]
    items = [i for _ in range(4) for i in range(5)] + [5, 5]
    matrix = interaction_matrix(users, items, n_users=6, n_items=7)  # item 6: nobody's
    table = ItemKNN(k=2).fit(matrix).similarity.toarray()
    assert np.all(np.diag(table) == 0)
    assert [np.count_nonzero(table[:, j]) for j in range(7)] == [2, 2, 2, 2, 2, 0, 0]
    assert table[:5, :5].sum() == pytest.approx(10.0), "each of the five has two of the others, at cosine 1"
    assert not np.isnan(table).any()


def test_item_knn_with_threads_finds_the_same_neighbours():
    rng = np.random.default_rng(1)
    matrix = scipy.sparse.csr_matrix((rng.random((300, 80)) < 0.1).astype(np.float32))
    cosine = brute_force_cosine(matrix)
    one, every = ItemKNN(k=5).fit(matrix), ItemKNN(k=5, num_threads=0).fit(matrix)
    assert_k_nearest(one.similarity, cosine, 5)
    assert_k_nearest(every.similarity, cosine, 5)
    assert one.scores(np.arange(300), matrix) == pytest.approx(matrix.toarray() @ one.similarity.toarray(), abs=1e-5)


def test_an_unfitted_recommender_says_so(two_groups):
    with pytest.raises(RuntimeError, match="not fitted"):
        ItemKNN().recommend([0], two_groups[[0]])


def test_every_recommender_is_a_recommender():
    assert all(isinstance(factory(), Recommender) for factory in FACTORIES.values())
    assert isinstance(MostPopular(), Recommender)


# --- where ALS runs: threads and the GPU build ---------------------------------------------------


def test_als_hands_its_threads_to_implicit(two_groups):
    model = ImplicitALS(factors=4, iterations=2, num_threads=2).fit(two_groups)
    assert model.model.num_threads == 2


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [("auto", True, True), ("auto", False, False), ("cpu", True, False), ("cpu", False, False), ("cuda", True, True)],
)
def test_the_gpu_is_used_when_the_device_setting_and_implicit_allow(device, available, expected):
    assert use_gpu_for(device, available) is expected


def test_asking_for_a_gpu_that_is_not_there_is_an_error():
    with pytest.raises(RuntimeError, match="implicit finds none"):
        use_gpu_for("cuda", False)
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        use_gpu_for("gpu", True)


def test_gpu_available_is_implicits_own_finding(monkeypatch):
    import implicit.gpu

    assert gpu_available() is bool(implicit.gpu.HAS_CUDA)
    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", True)
    assert gpu_available() is True
    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    assert gpu_available() is False


@pytest.fixture
def stand_in_gpu(monkeypatch):
    import implicit.gpu.als

    StandInGpuALS.made = []
    monkeypatch.setattr(implicit.gpu.als, "AlternatingLeastSquares", StandInGpuALS)
    return StandInGpuALS


def test_als_on_the_gpu_is_brought_back_to_numpy(stand_in_gpu, two_groups):
    model = ImplicitALS(factors=4, regularization=0.5, iterations=15, seed=0, use_gpu=True).fit(two_groups)
    assert len(stand_in_gpu.made) == 1 and stand_in_gpu.made[0].fitted, "implicit's GPU class was the one fitted"
    assert isinstance(model.model.item_factors, np.ndarray), "scoring and storing read numpy factors"
    ids, _ = model.recommend([0, 6], two_groups[[0, 6]], n=1)
    assert ids[:, 0].tolist() == [0, 5]


def test_als_on_the_cpu_never_touches_the_gpu_class(stand_in_gpu, two_groups):
    ImplicitALS(factors=4, iterations=2).fit(two_groups)
    assert stand_in_gpu.made == []
