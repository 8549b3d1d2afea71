"""The per-tenant collaborative-filtering model: implicit ALS and item-KNN fitted on interactions.

Usage::

    from llmrec_django import collaborative

    record = collaborative.fit_collaborative_model(tenant)    # fits, writes the .npz, records it
    model = collaborative.current_model(tenant)               # cached per process; None if never fitted
    model.recommend(user_pk, n=100, exclude=consumed)         # ALS: {item_pk: score}
    model.similar(item_pk, n=20)                              # {item_pk: cosine of item factors}
    model.neighbour_recommend(liked, n=100, exclude=consumed) # item-KNN from the live history
    model.neighbour_scores(liked, item_pks)                   # item-KNN score of given items

Two views of the same interactions: ALS factors (a user known at fitting time) and an item-item
neighbour table (``core.baselines.ItemKNN``: each item's ``ITEM_KNN_NEIGHBOURS`` most co-consumed
items, cosine on the binary matrix). The neighbour table scores from the items a user likes *now*,
so a user's newest events (and users who arrived after the fit) count at once. Both are fitted
by ``implicit`` with ``LLMREC["COLLABORATIVE"]["THREADS"]`` threads, ALS on a GPU where
implicit's CUDA build finds one and ``DEVICE`` allows it (``fitting_resources``).

Confidences come from ``LLMREC["EVENT_WEIGHTS"]`` (ratings signed around 3 stars, as for the
interest vector, without time decay); events with a non-positive weight (dislikes, impressions,
searches, poor ratings) are ignored. The factors and the maps from matrix rows/columns to
database ids are saved as ``LLMREC_HOME/models/<tenant slug>/als-<timestamp>.npz``; the tenant's
latest ``CollaborativeModel`` row names the current file, and every process checks that row
before using its cached copy, so a refit is picked up everywhere without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import scipy.sparse
from django.utils import timezone

from llmrec_django.catalogue import sequences
from llmrec_django.catalogue.interactions import Interactions, load_interactions
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import tuning
from llmrec_django.core.baselines import ImplicitALS, ItemKNN, gpu_available, use_gpu_for
from llmrec_django.core.splits import interaction_matrix
from llmrec_django.database import artifacts, caches
from llmrec_django.models import CollaborativeModel, Tenant

logger = logging.getLogger(__name__)


@dataclass
class CollaborativeFactors:
    """Fitted ALS factors and the item-KNN neighbour table, with the database ids of their rows
    and columns; answers with database ids."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    # item x item (columns of item_ids): S[i, j] = cosine(i, j) if i is among j's nearest items.
    item_neighbours: scipy.sparse.csr_matrix | None = None
    # Transitions and the sequential model (``catalogue.sequences``); None in files from before them.
    sequences: sequences.SequenceModels | None = None
    params: dict | None = None  # the ALS settings and neighbourhood it was fitted with
    tuning: dict | None = None  # how they were chosen (``_tune``), when they were

    def __post_init__(self) -> None:
        self.user_row = {int(u): row for row, u in enumerate(self.user_ids.tolist())}
        self.item_column = {int(i): column for column, i in enumerate(self.item_ids.tolist())}

    def knows_user(self, user_id: int) -> bool:
        return user_id in self.user_row

    def knows_items(self, item_ids: Iterable[int]) -> np.ndarray:
        """True for each item the model was fitted with (it had interactions then)."""
        return np.array([int(i) in self.item_column for i in item_ids], dtype=bool)

    def user_scores(self, user_id: int) -> np.ndarray | None:
        row = self.user_row.get(user_id)
        return None if row is None else self.item_factors @ self.user_factors[row]

    def recommend(self, user_id: int, n: int, exclude: set[int] | frozenset[int] = frozenset()) -> dict[int, float]:
        """The user's n best items by factor dot product; an unknown user gets none."""
        scores = self.user_scores(user_id)
        if scores is None or n <= 0:
            return {}
        result: dict[int, float] = {}
        for column in _best_first(scores, n + len(exclude)):
            item_id = int(self.item_ids[column])
            if item_id not in exclude:
                result[item_id] = float(scores[column])
                if len(result) >= n:
                    break
        return result

    def _pick(self, scores: np.ndarray | None, item_ids: list[int]) -> np.ndarray:
        """``scores`` (one per column) for ``item_ids``; 0 for unknown items or no scores."""
        out = np.zeros(len(item_ids))
        if scores is None:
            return out
        for position, item_id in enumerate(item_ids):
            column = self.item_column.get(int(item_id))
            if column is not None:
                out[position] = scores[column]
        return out

    def score_items(self, user_id: int, item_ids: list[int]) -> np.ndarray:
        """The user's score for each of ``item_ids`` (0 for an unknown user or item)."""
        return self._pick(self.user_scores(user_id), item_ids)

    def neighbour_vector(self, liked: Mapping[int, float] | Iterable[int]) -> np.ndarray | None:
        """Item-KNN score of every column: the sum of each liked item's neighbour row (binary, as
        the ItemKNN baseline); None without a neighbour table or a liked item it knows. A list
        computes it once and hands it to ``neighbour_recommend`` and ``neighbour_scores``."""
        if self.item_neighbours is None:
            return None
        columns = [self.item_column[int(i)] for i in liked if int(i) in self.item_column]
        if not columns:
            return None
        return np.asarray(self.item_neighbours[columns].sum(axis=0), dtype=np.float64).ravel()

    def neighbour_recommend(
        self,
        liked: Mapping[int, float] | Iterable[int],
        n: int,
        exclude: set[int] | frozenset[int] = frozenset(),
        *,
        vector: np.ndarray | None = None,
    ) -> dict[int, float]:
        """The n items most co-consumed with ``liked`` (item-KNN), best first; never a liked one.
        ``vector``: ``neighbour_vector(liked)`` when already computed."""
        scores = self.neighbour_vector(liked) if vector is None else vector
        if scores is None or n <= 0:
            return {}
        skip = set(exclude) | {int(i) for i in liked}
        result: dict[int, float] = {}
        candidates = np.flatnonzero(scores > 0)
        for column in candidates[_best_first(scores[candidates], n + len(skip))]:
            item_id = int(self.item_ids[column])
            if item_id not in skip:
                result[item_id] = float(scores[column])
                if len(result) >= n:
                    break
        return result

    def neighbour_scores(
        self, liked: Mapping[int, float] | Iterable[int], item_ids: list[int], *, vector: np.ndarray | None = None
    ) -> np.ndarray:
        """The item-KNN score of each of ``item_ids`` given ``liked`` (0 when unknown);
        ``vector``: ``neighbour_vector(liked)`` when already computed."""
        return self._pick(self.neighbour_vector(liked) if vector is None else vector, item_ids)

    def strongest_neighbour(self, liked: Iterable[int], item_id: int) -> int | None:
        """The liked item that contributes most to ``item_id``'s item-KNN score (for explanations)."""
        column = self.item_column.get(int(item_id))
        if self.item_neighbours is None or column is None:
            return None
        known = [int(i) for i in liked if int(i) in self.item_column]
        if not known:
            return None
        values = self.item_neighbours[[self.item_column[i] for i in known]][:, [column]].toarray().ravel()
        best = int(np.argmax(values))
        return known[best] if values[best] > 0 else None

    def similar(self, item_id: int, n: int) -> dict[int, float]:
        """Items whose factors are closest (cosine) to ``item_id``'s, itself excluded."""
        column = self.item_column.get(item_id)
        if column is None or n <= 0:
            return {}
        norms = np.linalg.norm(self.item_factors, axis=1)
        norms[norms == 0] = 1.0
        cosine = self.item_factors @ self.item_factors[column] / (norms * norms[column])
        cosine[column] = -np.inf
        top = np.argsort(-cosine, kind="stable")[:n]
        return {int(self.item_ids[c]): float(cosine[c]) for c in top if np.isfinite(cosine[c])}


def _best_first(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the (at least) ``n`` highest ``scores``, best first, ties by position (as a
    stable sort of all of them would give, without sorting all of them)."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - n)[len(scores) - n]
    top = np.flatnonzero(scores >= kth)  # every position tied with the n-th too, in order
    return top[np.argsort(-scores[top], kind="stable")]


def fitting_resources() -> dict:
    """``num_threads`` and ``use_gpu`` for ALS, from ``LLMREC["COLLABORATIVE"]``: the GPU when
    the device is "auto" and implicit's CUDA build finds one, or "cuda"."""
    options = llmrec_settings.COLLABORATIVE
    device = options["DEVICE"]
    return {
        "num_threads": int(options["THREADS"]),
        # implicit.gpu is imported only when a GPU may be used
        "use_gpu": use_gpu_for(device, device != "cpu" and gpu_available()),
    }


def fit_factors(
    data: Interactions,
    *,
    events: Interactions | None = None,
    vectors: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    tune: bool = False,
    **params,
) -> CollaborativeFactors | None:
    """Fit ALS and item-KNN on ``data`` (in memory, nothing stored); with ``events``
    (``sequences.load_sequence_events``) also the transitions and, from the catalogue's
    ``vectors``, the sequential model. ``tune``: choose ALS's settings and the neighbourhood size
    on ``data`` first (``LLMREC["TUNING"]``; the figures in ``tuning``). ``params`` override ALS's
    settings (``item_knn_neighbours`` the neighbourhood). None when there is nothing to learn from."""
    if len(data.user_ids) == 0:
        return None
    user_ids, user_rows = np.unique(data.user_ids, return_inverse=True)
    item_ids, item_columns = np.unique(data.item_ids, return_inverse=True)
    matrix = interaction_matrix(user_rows, item_columns, len(user_ids), len(item_ids), data.weights)
    settings_params = dict(llmrec_settings.ALS)
    settings_params.update(params)
    neighbourhood = int(settings_params.pop("item_knn_neighbours", llmrec_settings.ITEM_KNN_NEIGHBOURS))
    # More factors than items or users only adds noise (and implicit refuses some shapes).
    settings_params["factors"] = max(2, min(int(settings_params["factors"]), len(item_ids), len(user_ids)))
    resources = fitting_resources()
    tuned = None
    if tune and llmrec_settings.TUNING["ENABLED"]:
        settings_params, neighbourhood, tuned = _tune(
            data, user_rows, item_columns, settings_params, neighbourhood, seed, resources
        )
    model = ImplicitALS(**settings_params, **resources).fit(matrix)
    neighbours = ItemKNN(k=neighbourhood, num_threads=resources["num_threads"]).fit(matrix)
    return CollaborativeFactors(
        user_ids=user_ids,
        item_ids=item_ids,
        user_factors=np.asarray(model.model.user_factors, dtype=np.float32),
        item_factors=np.asarray(model.model.item_factors, dtype=np.float32),
        item_neighbours=neighbours.similarity.astype(np.float32).tocsr(),
        sequences=sequences.fit_sequence_models(events, vectors, seed=seed) if events is not None else None,
        params={**settings_params, "item_knn_neighbours": neighbourhood},
        tuning=tuned,
    )


def _tune(
    data: Interactions,
    user_rows: np.ndarray,
    item_columns: np.ndarray,
    als: dict,
    neighbourhood: int,
    seed: int,
    resources: dict,
) -> tuple[dict, int, dict]:
    """ALS's settings and the neighbourhood size chosen on ``data`` (``core.tuning``)."""
    settings = llmrec_settings.TUNING
    n_users, n_items = int(user_rows.max()) + 1, int(item_columns.max()) + 1
    train, targets = tuning.hold_out_latest(user_rows, item_columns, data.times, n_users, n_items, data.weights)
    if len(targets) < 2:
        return als, neighbourhood, {"skipped": "fewer than two users with two items"}
    budget = float(settings["BUDGET_SECONDS"])
    started = time.perf_counter()
    limit = max(2, min(n_items, n_users))
    options = {
        name: [min(int(v), limit) if name == "factors" else v for v in values]
        for name, values in dict(settings["ALS"]).items()
    }
    best_als, als_figures = tuning.coordinate_search(
        lambda p: ImplicitALS(**p, **resources), als, options, train, targets, budget_seconds=budget * 0.75, seed=seed
    )
    remaining = max(0.0, budget - (time.perf_counter() - started))
    best_knn, knn_figures = tuning.coordinate_search(
        lambda p: ItemKNN(k=int(p["k"]), num_threads=resources["num_threads"]),
        {"k": neighbourhood}, {"k": list(settings["ITEM_KNN_NEIGHBOURS"])},
        train, targets, budget_seconds=remaining, seed=seed,
    )  # fmt: skip
    return (
        best_als,
        int(best_knn["k"]),
        {
            "validation": f"each user's latest new item ({len(targets)} users)",
            "als": als_figures,
            "item_knn": knn_figures,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


def model_directory(tenant: Tenant) -> Path:
    return llmrec_settings.home / "models" / tenant.slug


def fit_collaborative_model(tenant: Tenant, **params) -> CollaborativeModel | None:
    """Fit ALS on all the tenant's positive interactions, store it and make it current."""
    started = time.perf_counter()
    data = load_interactions(tenant)
    factors = fit_factors(
        data,
        events=sequences.load_sequence_events(tenant),
        vectors=sequences.catalogue_vectors(tenant),
        tune=not params,
        **params,
    )
    if factors is None:
        logger.info("Tenant %s has no positive interactions; no collaborative model fitted.", tenant.slug)
        return None
    directory = model_directory(tenant)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"als-{timezone.now():%Y%m%dT%H%M%S%f}.npz"
    neighbours = factors.item_neighbours
    np.savez(
        path,
        user_ids=factors.user_ids,
        item_ids=factors.item_ids,
        user_factors=factors.user_factors,
        item_factors=factors.item_factors,
        neighbour_data=neighbours.data,
        neighbour_indices=neighbours.indices,
        neighbour_indptr=neighbours.indptr,
        **(factors.sequences.to_arrays() if factors.sequences is not None else {}),
    )
    record = CollaborativeModel.objects.create(
        tenant=tenant,
        # Published to the artifact storage: every machine loads it by this name.
        path=artifacts.publish(path),
        n_users=len(factors.user_ids),
        n_items=len(factors.item_ids),
        n_interactions=len(data.user_ids),
        params={
            **factors.params,
            "factors": int(factors.item_factors.shape[1]),
            **({"tuning": factors.tuning} if factors.tuning else {}),
            **(factors.sequences.describe() if factors.sequences is not None else {}),
        },
        fit_seconds=round(time.perf_counter() - started, 3),
    )
    prune_superseded(tenant.pk)
    return record


def prune_superseded(tenant_id: int) -> int:
    """Delete the tenant's older models, records and files: only the current one serves, and an
    old file would keep the factors of users erased since. Returns how many went."""
    records = list(CollaborativeModel.objects.filter(tenant_id=tenant_id).values_list("pk", "path"))
    superseded = records[1:]  # newest first
    if not superseded:
        return 0
    CollaborativeModel.objects.filter(pk__in=[pk for pk, _ in superseded]).delete()
    for _, path in superseded:
        artifacts.delete(path)  # here and in the storage; other machines prune their copies
    return len(superseded)


_cache_lock = threading.Lock()
_cache: dict[int, tuple[int, CollaborativeFactors]] = {}


ALS_PARAMS = ("factors", "regularization", "iterations", "alpha", "item_knn_neighbours")


def chosen_params(tenant_id: int) -> dict:
    """The collaborative settings of the tenant's current model (as tuned), for fits that should
    match it (the blend's snapshot); empty without a model."""
    record = CollaborativeModel.objects.filter(tenant_id=tenant_id).values_list("params", flat=True).first()
    return {key: value for key, value in (record or {}).items() if key in ALS_PARAMS}


def current_record(tenant_id: int) -> tuple[int, str] | None:
    """``(id, file path)`` of the tenant's latest collaborative model, if one was fitted."""
    return CollaborativeModel.objects.filter(tenant_id=tenant_id).values_list("pk", "path").first()


_LOOK_UP = object()  # current_model(record=...) left out: find the current record


def current_model(
    tenant: Tenant | int, *, record: tuple[int, str] | None | object = _LOOK_UP
) -> CollaborativeFactors | None:
    """The tenant's current collaborative model, loaded once per process and file.

    ``record``: ``(id, path)`` of the current record when the caller knows it (the serving
    snapshot), None when there is none; left out, one small query finds it. A missing or
    unreadable file is logged and treated as no model, so recommendations simply go without
    collaborative candidates.
    """
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else int(tenant)
    if record is _LOOK_UP:
        record = current_record(tenant_id)
    if record is None:
        return None
    record_id, path = record
    cached = _cache.get(tenant_id)
    if cached is not None and cached[0] == record_id:
        return cached[1]
    try:
        with np.load(artifacts.local_path(path)) as data:
            n_items = len(data["item_ids"])
            neighbours = None
            if "neighbour_data" in data:  # files written before item-KNN was added have none
                neighbours = scipy.sparse.csr_matrix(
                    (data["neighbour_data"], data["neighbour_indices"], data["neighbour_indptr"]),
                    shape=(n_items, n_items),
                )
            factors = CollaborativeFactors(
                user_ids=data["user_ids"],
                item_ids=data["item_ids"],
                user_factors=data["user_factors"],
                item_factors=data["item_factors"],
                item_neighbours=neighbours,
                sequences=sequences.SequenceModels.from_arrays(data),
            )
    except (OSError, KeyError, ValueError) as exc:
        logger.warning("Collaborative model %s (%s) cannot be loaded: %s", record_id, path, exc)
        return None
    with _cache_lock:
        _cache[tenant_id] = (record_id, factors)
    if llmrec_settings.ARTIFACT_STORAGE and not os.path.isabs(path):
        # Copies of superseded models fetched here earlier (deleted from the storage when they
        # were superseded: they may hold the factors of users erased since).
        artifacts.prune_local(str(PurePosixPath(path).parent), {path})
    return factors


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


caches.register(clear_cache)
