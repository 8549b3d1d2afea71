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

``MostPopular`` and ``ItemKNN`` are plain numpy/scipy; ``ImplicitALS`` and ``ImplicitBPR`` wrap
the ``implicit`` library's matrix factorisation (CPU), which is imported only when one is fitted.
They serve as the collaborative candidate source and feature of the hybrid ranking, and as the
baselines its offline evaluation is compared with.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

# Dense score cells computed at once (16 Mi float32 = 64 MiB): recommend() and ItemKNN.fit()
# work in blocks of users or items this size, so memory stays bounded on large catalogues.
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

        sim(i, j)  = |users of i and j| / (sqrt(|users of i|) * sqrt(|users of j|) + shrink)   (cosine)
        S[i, j]    = sim(i, j) if i is among the k items most similar to j, else 0
        score(u,j) = sum over the user's items i of  user_items[u, i] * S[i, j]

    Each candidate item j is scored from its own k nearest neighbours only, which drops the long
    tail of weak co-occurrences that otherwise adds noise. ``shrink`` > 0 lowers similarities
    resting on few common users.
    """

    def __init__(self, k: int = 50, shrink: float = 0.0):
        self.k = k
        self.shrink = shrink

    def fit(self, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> Self:
        binary = (_as_csr(user_items) > 0).astype(np.float32)
        n_items = binary.shape[1]
        self.item_users = binary.T.tocsr()
        self.norms = np.sqrt(np.asarray(binary.sum(axis=0), dtype=np.float32).ravel())
        by_item = binary.tocsc()
        k = min(self.k, n_items - 1)
        rows, columns, values = [], [], []
        block = max(1, BLOCK_CELLS // max(n_items, 1))
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            # Co-occurrence of every item with this block's items, as a dense (n_items, block) array.
            similarity = (self.item_users @ by_item[:, start:stop]).toarray()
            similarity /= self._denominator(self.norms[:, None] * self.norms[None, start:stop])
            similarity[np.arange(start, stop), np.arange(stop - start)] = 0.0
            if k <= 0:
                continue
            neighbours = np.argpartition(-similarity, k - 1, axis=0)[:k]
            strength = np.take_along_axis(similarity, neighbours, axis=0)
            keep = strength > 0
            rows.append(neighbours[keep])
            columns.append(np.broadcast_to(np.arange(start, stop), neighbours.shape)[keep])
            values.append(strength[keep])
        if not values:  # a catalogue of one item has no neighbours
            rows, columns, values = [np.zeros(0, dtype=np.int64)] * 2 + [np.zeros(0, dtype=np.float32)]
        self.similarity = scipy.sparse.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=(n_items, n_items)
        )
        self.n_items = n_items
        return self

    def _denominator(self, norm_products: np.ndarray) -> np.ndarray:
        denominator = norm_products + self.shrink
        return np.where(denominator > 0, denominator, 1.0)  # items nobody used: co-occurrence 0 anyway

    def scores(self, user_ids: ArrayLike, user_items: scipy.sparse.spmatrix | scipy.sparse.sparray) -> np.ndarray:
        self._check_fitted()
        return (_as_csr(user_items) @ self.similarity).toarray()

    def similar_items(self, item_id: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Exact cosine against every item (not only the k kept neighbours)."""
        self._check_fitted()
        co_occurrence = (self.item_users @ self.item_users[item_id].T).toarray().ravel()
        return _top_similar(co_occurrence / self._denominator(self.norms * self.norms[item_id]), item_id, n)


class _ImplicitFactorisation(Recommender):
    """Shared by the ``implicit`` wrappers: score = user factor . item factor."""

    num_threads: int
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
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from ``implicit``, on the CPU.

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
    ):
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.seed = seed
        self.num_threads = num_threads

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
            use_gpu=False,
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
