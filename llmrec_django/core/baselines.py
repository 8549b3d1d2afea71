"""Collaborative-filtering recommenders behind one small interface, after ``implicit``'s verbs.

Every recommender learns from a users x items CSR matrix of confidences (``implicit`` 0.7's
orientation: one row per user) and answers for many users at once::

    from llmrec_django.core.baselines import ImplicitALS, ItemKNN, MostPopular
    from llmrec_django.core.splits import interaction_matrix

    user_items = interaction_matrix(users, items, n_users, n_items)
    model = ItemKNN(k=50).fit(user_items)
    ids, scores = model.recommend(np.arange(n_users), user_items, n=10)   # (n_users, 10) each
    ids, scores = model.similar_items(42, n=10)
    every_item = model.scores([7], user_items[[7]])                        # (1, n_items)

``MostPopular`` is plain numpy; ``ItemKNN`` finds its neighbours with ``implicit``'s item-item
code, and ``ImplicitALS`` and ``ImplicitBPR`` wrap its matrix factorisation (ALS also on a GPU,
with implicit's CUDA build: ``use_gpu``, ``gpu_available``); implicit is imported only when one
is fitted. Threads: ``num_threads`` (0: every core). Within a sweep implicit's ALS solves each
user (item) from the other side's factors alone, so the threads should not change the factors
(1 and 2 gave identical ones in ``bench/collaborative_scale.py``); nothing relies on it. They
serve as the collaborative candidate source and feature of the hybrid ranking, and as the
baselines its offline evaluation is compared with.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

# Dense score cells computed at once (16 Mi float32 = 64 MiB): recommend() works in blocks of
# users this size, so memory stays bounded on large catalogues.
BLOCK_CELLS = 1 << 24


def _as_csr(user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> scipy.sparse.csr_matrix:
    if not scipy.sparse.issparse(user_items):
        raise TypeError("user_items must be a scipy sparse matrix (users x items)")
    return scipy.sparse.csr_matrix(user_items, dtype=np.float32)


def _top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n best columns of each row, best first (ties: lower column first); -inf cells become id -1."""
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64), np.zeros((len(scores), 0), dtype=scores.dtype)
    # argpartition finds the n best in O(n_items); only those n are then sorted.
    best = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    best_scores = np.take_along_axis(scores, best, axis=1)
    order = np.lexsort((best, -best_scores), axis=1)
    ids = np.take_along_axis(best, order, axis=1).astype(np.int64)
    best_scores = np.take_along_axis(best_scores, order, axis=1)
    ids[np.isneginf(best_scores)] = -1
    return ids, best_scores


class Recommender(ABC):
    """The contract every collaborative recommender meets.

    - ``fit(user_items)``: learn from a users x items sparse matrix of confidences; returns self.
    - ``scores(user_ids, user_items)``: the dense score of every item for each user, from the
      model and the users' rows (``user_items`` has one row per id, in order).
    - ``recommend(user_ids, user_items, n)``: the n best items per user, as ``(ids, scores)``
      arrays of shape ``(len(user_ids), n)`` (1-D for a single id); items the user's row already
      holds are left out unless ``filter_already_liked=False``, and so are ``filter_items``. Rows
      with fewer than n items left are padded with id -1 and score -inf.
    - ``similar_items(item_id, n)``: the n items most like one item (itself excluded).
    """

    n_items: int = 0

    @abstractmethod
    def fit(self, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> Self: ...

    @abstractmethod
    def scores(self, user_ids: ArrayLike, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> np.ndarray: ...

    @abstractmethod
    def similar_items(self, item_id: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]: ...

    def recommend(
        self,
        user_ids: ArrayLike,
        user_items: scipy.sparse.spmatrix | scipy.sparse.sparray,
        n: int = 10,
        filter_already_liked: bool = True,
        filter_items: ArrayLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        single = np.isscalar(user_ids)
        user_ids = np.atleast_1d(np.asarray(user_ids, dtype=np.int64))
        rows = _as_csr(user_items)
        if rows.shape[0] != len(user_ids):
            raise ValueError(f"user_items must have one row per user id: {rows.shape[0]} rows, {len(user_ids)} ids")
        blocked = None if filter_items is None else np.asarray(filter_items, dtype=np.int64)
        batch = max(1, BLOCK_CELLS // max(self.n_items, 1))
        all_ids, all_scores = [], []
        for start in range(0, len(user_ids), batch):
            block_rows = rows[start : start + batch]
            scores = np.array(self.scores(user_ids[start : start + batch], block_rows), dtype=np.float32)
            if filter_already_liked:
                liked_rows = np.repeat(np.arange(block_rows.shape[0]), np.diff(block_rows.indptr))
                scores[liked_rows, block_rows.indices] = -np.inf
            if blocked is not None:
                scores[:, blocked] = -np.inf
            ids, best = _top_n(scores, n)
            all_ids.append(ids)
            all_scores.append(best)
        ids = np.concatenate(all_ids) if all_ids else np.zeros((0, min(n, self.n_items)), dtype=np.int64)
        best = np.concatenate(all_scores) if all_scores else np.zeros(ids.shape, dtype=np.float32)
        return (ids[0], best[0]) if single else (ids, best)

    def _check_fitted(self) -> None:
        if not self.n_items:
            raise RuntimeError(f"{type(self).__name__} is not fitted")


def _top_similar(similarity: np.ndarray, item_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    similarity = np.array(similarity, dtype=np.float32)
    similarity[item_id] = -np.inf  # an item is trivially most similar to itself
    ids, scores = _top_n(similarity[None, :], min(n, len(similarity) - 1))
    return ids[0], scores[0]


def _at_most_k_per_row(
    indptr: np.ndarray, columns: np.ndarray, values: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CSR matrix's arrays less all but the k largest entries of each row. Rows within k (all
    of them, unless other items tied with an item's cosine 1 to itself) are left as they are."""
    crowded = np.flatnonzero(np.diff(indptr) > k)
    if not len(crowded):
        return indptr, columns, values
    keep = np.ones(len(values), dtype=bool)
    for row in crowded:  # rare (groups of items with identical users), and each row is short
        start, stop = indptr[row], indptr[row + 1]
        keep[start + np.argsort(-values[start:stop], kind="stable")[k:]] = False
    return _kept_indptr(indptr, keep), columns[keep], values[keep]


def _kept_indptr(indptr: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """A CSR matrix's row pointers once only its ``keep`` entries are left."""
    kept_before = np.concatenate([np.zeros(1, dtype=indptr.dtype), np.cumsum(keep, dtype=indptr.dtype)])
    return kept_before[indptr]


class MostPopular(Recommender):
    """The same list for everyone: items by number of users with a positive interaction.

    Ties go to the lower item index. ``similar_items`` is not personal either: the most popular
    other items.
    """

    def fit(self, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> Self:
        matrix = _as_csr(user_items)
        self.n_items = matrix.shape[1]
        self.popularity = np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()
        return self

    def scores(self, user_ids: ArrayLike, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> np.ndarray:
        self._check_fitted()
        return np.broadcast_to(self.popularity, (len(np.atleast_1d(user_ids)), self.n_items))

    def similar_items(self, item_id: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return _top_similar(self.popularity, item_id, n)


class ItemKNN(Recommender):
    """Item-based k-nearest neighbours on the binary user-item matrix.

        sim(i, j)  = |users of i and j| / (sqrt(|users of i|) * sqrt(|users of j|))   (cosine)
        S[i, j]    = sim(i, j) if i is among the k items most similar to j, else 0
        score(u,j) = sum over the user's items i of  user_items[u, i] * S[i, j]

    Each candidate item j is scored from its own k nearest neighbours only, which drops the long
    tail of weak co-occurrences that otherwise adds noise. The neighbours are found by
    ``implicit``'s ``ItemItemRecommender`` (compiled, ``num_threads`` threads; 0: every core) on
    the matrix with unit-length item columns, whose dot products are these cosines.
    """

    def __init__(self, k: int = 50, num_threads: int = 1):
        self.k = k
        self.num_threads = num_threads

    def fit(self, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> Self:
        from implicit.nearest_neighbours import ItemItemRecommender  # compiled; only when fitted

        binary = (_as_csr(user_items) > 0).astype(np.float32)
        n_items = binary.shape[1]
        self.item_users = binary.T.tocsr()
        self.norms = np.sqrt(np.asarray(binary.sum(axis=0), dtype=np.float32).ravel())
        self.n_items = n_items
        k = min(self.k, n_items - 1)
        if k <= 0:  # a catalogue of one item has no neighbours
            self.similarity = scipy.sparse.csr_matrix((n_items, n_items), dtype=np.float32)
            return self
        norms = self.norms.astype(np.float64)  # implicit's neighbour search takes float64 only
        inverse_norms = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        unit_columns = (binary.astype(np.float64) @ scipy.sparse.diags(inverse_norms)).tocsr()
        # implicit counts the item itself among its K nearest (cosine 1): ask for k + 1, drop it.
        knn = ItemItemRecommender(K=k + 1, num_threads=self.num_threads)
        knn.fit(unit_columns, show_progress=False)
        del unit_columns
        # Row i: item i's nearest items, rows short of K padded with zeros. Taken apart array by
        # array, letting go of each once read: a catalogue of 1M items has tens of millions.
        nearest, knn.similarity = knn.similarity, None
        rows = np.repeat(np.arange(n_items, dtype=nearest.indices.dtype), np.diff(nearest.indptr))
        keep = (nearest.data > 0) & (nearest.indices != rows)
        del rows
        columns, values = nearest.indices[keep], nearest.data[keep].astype(np.float32)
        indptr = _kept_indptr(nearest.indptr, keep)
        del nearest, keep
        indptr, columns, values = _at_most_k_per_row(indptr, columns, values, k)
        by_item = scipy.sparse.csr_matrix((values, columns, indptr), shape=(n_items, n_items))
        # Stored the other way round: column j holds j's neighbours, so a user's row times S scores.
        self.similarity = by_item.T.tocsr()
        return self

    def scores(self, user_ids: ArrayLike, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> np.ndarray:
        self._check_fitted()
        return (_as_csr(user_items) @ self.similarity).toarray()

    def similar_items(self, item_id: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Exact cosine against every item (not only the k kept neighbours)."""
        self._check_fitted()
        co_occurrence = (self.item_users @ self.item_users[item_id].T).toarray().ravel()
        norm_products = self.norms * self.norms[item_id]
        # items nobody used (norm 0) have co-occurrence 0 with everything
        cosine = np.divide(co_occurrence, norm_products, out=np.zeros_like(co_occurrence), where=norm_products > 0)
        return _top_similar(cosine, item_id, n)


def gpu_available() -> bool:
    """Whether ``implicit``'s CUDA build is installed and found a GPU (``implicit.gpu.HAS_CUDA``;
    it needs RAPIDS' ``rmm`` and a CUDA device, and is False everywhere else)."""
    import implicit.gpu

    return bool(implicit.gpu.HAS_CUDA)


def use_gpu_for(device: str, available: bool) -> bool:
    """Whether ALS fits on the GPU for a ``device`` setting: "auto" when one is ``available``,
    "cuda" always (an error when none is), "cpu" never."""
    if device == "cpu":
        return False
    if device == "auto":
        return available
    if device == "cuda":
        if not available:
            raise RuntimeError(
                "ALS is set to fit on a GPU (device 'cuda'), but implicit finds none: its CUDA build "
                "needs RAPIDS' rmm and a CUDA device. Use 'auto' to fall back to the CPU."
            )
        return True
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")


class _ImplicitFactorisation(Recommender):
    """Shared by the ``implicit`` wrappers: score = user factor . item factor."""

    num_threads: int
    use_gpu: bool = False
    model = None

    @abstractmethod
    def _make_model(self): ...

    def fit(self, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> Self:
        # threadpoolctl comes with implicit. implicit parallelises its solver itself; letting BLAS
        # start its own threads inside each of those oversubscribes the CPU (implicit warns it can
        # be ten times slower), so BLAS gets one thread while fitting.
        import implicit  # noqa: F401  (loads the BLAS it links: threadpool_limits reaches only loaded ones)
        from threadpoolctl import threadpool_limits

        matrix = _as_csr(user_items)
        with threadpool_limits(1, "blas"):
            self.model = self._make_model()  # the constructor already checks the BLAS threads
            self.model.fit(matrix, show_progress=False)
        if self.use_gpu:
            self.model = self.model.to_cpu()  # numpy factors: scoring and storing stay as on the CPU
        self.n_items = matrix.shape[1]
        return self

    def scores(self, user_ids: ArrayLike, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> np.ndarray:
        """From the factors learnt at fit time: ``user_ids`` are rows of the fitted matrix, and a user
        who arrived since has none (refit, or use ``ItemKNN``, which scores from the row alone)."""
        self._check_fitted()
        return self.model.user_factors[np.atleast_1d(user_ids)] @ self.model.item_factors.T

    def similar_items(self, item_id: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Cosine between item factors."""
        self._check_fitted()
        factors = np.asarray(self.model.item_factors, dtype=np.float32)
        norms = np.linalg.norm(factors, axis=1)
        norms[norms == 0] = 1.0
        return _top_similar(factors @ factors[item_id] / (norms * norms[item_id]), item_id, n)


class ImplicitALS(_ImplicitFactorisation):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from ``implicit``: on the CPU with
    ``num_threads`` threads (0: every core), or on a GPU with ``use_gpu`` (implicit's CUDA build).

    Confidence is ``1 + alpha * user_items[u, i]`` (implicit scales the matrix by ``alpha``).
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 1.0,
        seed: int = 0,
        num_threads: int = 1,
        use_gpu: bool = False,
    ):
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.seed = seed
        self.num_threads = num_threads
        self.use_gpu = use_gpu

    def _make_model(self):
        # Imported here: implicit loads compiled extensions and tqdm, which the numpy baselines
        # and the rest of the core do not need.
        from implicit.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=self.num_threads,
            use_gpu=self.use_gpu,
        )


class ImplicitBPR(_ImplicitFactorisation):
    """Bayesian personalised ranking (Rendle et al. 2009) from ``implicit``, on the CPU."""

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 0,
        num_threads: int = 1,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.seed = seed
        self.num_threads = num_threads

    def _make_model(self):
        from implicit.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=self.num_threads,
            use_gpu=False,
        )
