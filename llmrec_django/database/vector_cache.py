"""Exact vector search in the serving process, for catalogues small enough to hold in memory.

Below some tens of thousands of items, a matrix product over every item vector takes less time
than a round trip to PostgreSQL for an HNSW search (on 10,000 items of 384 dimensions: about
1 ms against 8 ms of server time for ``ef_search`` 100), and it is exact. So each process keeps
the vectors of the versions it serves (at most ``MAX_VERSIONS``) as one float32 matrix, loaded
in the background the first time a version is searched (that search, and any while the load runs,
goes to PostgreSQL as before) and checked the same way once ``IN_PROCESS_SEARCH_SECONDS`` old:
an item added or re-embedded meanwhile is searched from PostgreSQL only, so it may take that long
to come up as a vector-search candidate in a process (as it does in the new-item pool), and an
item made inactive meanwhile is dropped by the rows read after the search, which check it.

The check reads a fingerprint of the version's vectors first (their count, newest id and
update time, and which items are active: one aggregate, about 7 ms of server time on 10,000
items) and reloads the matrix only when it changed, or after ``FULL_RELOAD_CHECKS`` checks in
any case (a re-embedding committed with an older timestamp than one already seen would not move
the fingerprint). A full load of 10,000 x 384 takes about 90 ms of the process's CPU, which,
in every serving process at once each minute, held up the requests arriving then (the load
test's slowest lists came in those seconds). Each check is also due a little early, by a random
part of up to ``JITTER`` of the period, so that processes started together drift apart.

Catalogues over ``IN_PROCESS_SEARCH_MAX_ITEMS`` (memory: items x dimension x 4 bytes per process)
are searched in PostgreSQL, as are searches inside a transaction (which must see their own
writes), searches with a category or price filter, and those that name an ``ef_search`` or ask
for an exact scan (the recall measurements of the HNSW index).

The recommend service also reads the vectors of a user's liked items and of its candidates
from the matrix, and so does the refresh of user vectors in the workers
(``vectorstore.item_vectors_read(..., cached=True)``; items not in it from PostgreSQL).

Usage::

    matrix = vector_cache.matrix_for(version)   # None: search in PostgreSQL
    if matrix is not None:
        neighbours = matrix.search(query, 100, exclude=[3, 5])
        vectors, missing = matrix.vectors_of([7, 8])
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import connection

from llmrec_django.conf import llmrec_settings
from llmrec_django.database import caches
from llmrec_django.database.caches import in_background

logger = logging.getLogger(__name__)

# Versions kept per process: the active one and one more (an experiment's arm, the version
# before a switch while requests still name it).
MAX_VERSIONS = 2
# A matrix is loaded again, changed or not, after this many checks found it unchanged.
FULL_RELOAD_CHECKS = 10
# Each check is due early by up to this share of IN_PROCESS_SEARCH_SECONDS, at random.
JITTER = 0.2
_random = random.SystemRandom()  # not the module's generator: forked workers would share its state


@dataclass(frozen=True)
class VersionMatrix:
    """Every item vector of one version: ``item_ids`` ascending, ``vectors`` as stored."""

    version_id: int
    item_ids: np.ndarray  # int64 (n,)
    vectors: np.ndarray  # float32 (n, d)
    inverse_norms: np.ndarray  # float32 (n,), 0 for a zero vector
    active: np.ndarray  # bool (n,): the item was active when the matrix was loaded
    loaded_at: float  # time.monotonic()

    def __len__(self) -> int:
        return len(self.item_ids)

    def search(
        self, query: np.ndarray, k: int, exclude: Iterable[int] = (), *, with_vectors: bool = False
    ) -> list[tuple[int, float, np.ndarray | None]]:
        """The ``k`` active items closest (cosine) to ``query``, leaving out ``exclude``:
        ``(item_id, cosine, vector or None)``, best first, ties by item id (as the SQL orders)."""
        query = np.asarray(query, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        if k <= 0 or not len(self) or norm == 0.0:
            return []
        scores = (self.vectors @ (query / norm)) * self.inverse_norms
        usable = self.active.copy()
        exclude = np.fromiter((int(i) for i in exclude), dtype=np.int64)
        if len(exclude):
            usable &= ~np.isin(self.item_ids, exclude)
        rows = np.flatnonzero(usable)
        if len(rows) > k:
            # The k best, and every row tied with the k-th, so the id order settles the ties.
            kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
            rows = rows[scores[rows] >= kth]
        order = np.lexsort((self.item_ids[rows], -scores[rows]))[:k]
        rows = rows[order]
        return [(int(self.item_ids[r]), float(scores[r]), self.vectors[r] if with_vectors else None) for r in rows]

    def vectors_of(self, item_ids: Iterable[int]) -> tuple[dict[int, np.ndarray], list[int]]:
        """``({item_id: vector}, ids not in the matrix)``: the second are read from PostgreSQL."""
        ids = np.fromiter((int(i) for i in item_ids), dtype=np.int64)
        if not len(ids) or not len(self):
            return {}, ids.tolist()
        rows = np.minimum(np.searchsorted(self.item_ids, ids), len(self) - 1)
        here = self.item_ids[rows] == ids
        found = {int(i): self.vectors[r] for i, r, ok in zip(ids, rows, here, strict=True) if ok}
        return found, ids[~here].tolist()


_lock = threading.Lock()
_matrices: OrderedDict[int, VersionMatrix | None] = OrderedDict()  # None: too many items
# (time.monotonic() of the last check, the share of IN_PROCESS_SEARCH_SECONDS after which the next is due)
_checked_at: dict[int, tuple[float, float]] = {}
_fingerprints: dict[int, tuple] = {}  # what the check compares, as read with the matrix
_unchanged_checks: dict[int, int] = {}
_loading: set[int] = set()


def matrix_for(version) -> VersionMatrix | None:
    """This process's matrix of ``version``, or None where the search must go to PostgreSQL
    (see the module docstring); a missing or old one is (re)loaded in the background."""
    limit = int(llmrec_settings.IN_PROCESS_SEARCH_MAX_ITEMS or 0)
    if limit <= 0 or connection.in_atomic_block:
        return None
    with _lock:
        matrix = _matrices.get(version.pk)
        checked = _checked_at.get(version.pk)
        if checked is not None:
            _matrices.move_to_end(version.pk)
    seconds = float(llmrec_settings.IN_PROCESS_SEARCH_SECONDS)
    if checked is None or time.monotonic() - checked[0] >= seconds * checked[1]:
        _load_in_background(version.pk, limit)
    return matrix


def _checked_now() -> tuple[float, float]:
    return time.monotonic(), 1.0 - JITTER * _random.random()


def fingerprint(version_id: int, limit: int) -> tuple:
    """What changes when the version's vectors or its items' active flags change (and the limit
    the matrix was read under): one aggregate, no vector read."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), max(v.id), max(v.updated_at), sum(CASE WHEN i.is_active THEN v.item_id ELSE 0 END) "
            "FROM llmrec_django_itemvector v JOIN llmrec_django_item i ON i.id = v.item_id WHERE v.version_id = %s",
            [version_id],
        )
        return (*cursor.fetchone(), limit)


def _load_in_background(version_id: int, limit: int) -> None:
    with _lock:
        if version_id in _loading:
            return
        _loading.add(version_id)

    def load() -> None:
        try:
            current = fingerprint(version_id, limit)
            with _lock:
                unchanged = version_id in _matrices and _fingerprints.get(version_id) == current
                checks = _unchanged_checks.get(version_id, 0) + 1 if unchanged else 0
                if unchanged and checks < FULL_RELOAD_CHECKS:
                    _unchanged_checks[version_id] = checks
                    _checked_at[version_id] = _checked_now()
                    return
            matrix = load_matrix(version_id, limit)
            with _lock:
                _matrices[version_id] = matrix
                _checked_at[version_id] = _checked_now()
                _fingerprints[version_id] = current
                _unchanged_checks[version_id] = 0
                _matrices.move_to_end(version_id)
                while len(_matrices) > MAX_VERSIONS:
                    old, _ = _matrices.popitem(last=False)
                    for kept in (_checked_at, _fingerprints, _unchanged_checks):
                        kept.pop(old, None)
        except Exception:  # searches keep going to PostgreSQL; the next one tries again
            logger.exception("Loading the vectors of embedding version %s for in-process search failed", version_id)
        finally:
            with _lock:
                _loading.discard(version_id)

    in_background(load)


def load_matrix(version_id: int, limit: int) -> VersionMatrix | None:
    """Read every vector of the version (None when it has more than ``limit`` items).

    The ids, active flags and vectors come as three byte strings aggregated by the server
    (``string_agg`` of their binary forms), not as a row each: 10,000 rows were 10,000 small
    objects of 1.5 kB scattered through the heap, which the allocator could not give back once
    long-lived objects had been placed among them (the soak's worker grew 15 MB at each of its
    first full reloads); three large blocks are mapped and unmapped whole."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), string_agg(int8send(item_id), ''::bytea ORDER BY item_id), "
            "string_agg(boolsend(is_active), ''::bytea ORDER BY item_id), "
            "string_agg(vector_send(embedding), ''::bytea ORDER BY item_id) "
            "FROM (SELECT v.item_id, v.embedding, i.is_active FROM llmrec_django_itemvector v "
            "JOIN llmrec_django_item i ON i.id = v.item_id WHERE v.version_id = %s ORDER BY v.item_id LIMIT %s) s",
            [version_id, limit + 1],
        )
        count, ids, active, vectors = cursor.fetchone()
    if count > limit:
        logger.info(
            "Embedding version %s has more than IN_PROCESS_SEARCH_MAX_ITEMS (%s) items: searched in PostgreSQL.",
            version_id,
            limit,
        )
        return None
    vectors = matrix_from_binary(vectors, count)
    norms = np.linalg.norm(vectors, axis=1) if count else np.zeros(0, dtype=np.float32)
    matrix = VersionMatrix(
        version_id=version_id,
        item_ids=np.frombuffer(ids or b"", dtype=">i8").astype(np.int64),
        vectors=vectors,
        inverse_norms=np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32),
        active=np.frombuffer(active or b"", dtype=np.bool_).copy(),
        loaded_at=time.monotonic(),
    )
    logger.debug(
        "Loaded %d vectors of version %s for in-process search in %.0f ms",
        count,
        version_id,
        (time.perf_counter() - started) * 1000,
    )
    return matrix


def clear() -> None:
    """Forget every matrix (tests)."""
    with _lock:
        _matrices.clear()
        _checked_at.clear()
        _fingerprints.clear()
        _unchanged_checks.clear()


caches.register(clear)


def matrix_from_binary(blob: bytes | memoryview | None, count: int) -> np.ndarray:
    """``count`` vectors of one dimension in pgvector's binary form (``vector_send``: an int16
    dimension, an int16 left unused, the big-endian float32 components), one after another, as a
    float32 matrix: one copy, straight from the received bytes."""
    if not count:
        return np.zeros((0, 0), dtype=np.float32)
    blob = memoryview(blob).cast("B")
    dimension = int.from_bytes(blob[:2], "big")
    if len(blob) != count * (4 + 4 * dimension):
        raise ValueError(f"{len(blob)} bytes are not {count} vectors of dimension {dimension}")
    rows = np.dtype([("header", ">i4"), ("vector", ">f4", (dimension,))])
    return np.frombuffer(blob, dtype=rows)["vector"].astype(np.float32)
