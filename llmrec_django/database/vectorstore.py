"""Versioned vectors in pgvector: writing them, indexing them, searching them, switching versions.

All item vectors of all versions share one ``vector`` column (no fixed dimension). Each
``EmbeddingVersion`` gets a partial HNSW index over ``embedding::vector(dim)`` restricted to its
own rows, so versions of different models and dimensions live side by side (blue/green): a new
version is written and indexed while the active one serves, then switched on in one
transaction. A search names its version and casts to that version's dimension, which is what
lets the planner use that version's index.

Versions belong to a tenant, so a version's index holds only that tenant's items and a search
can never return another tenant's item.
"""

from __future__ import annotations

import json
import logging
import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.intent import Constraint
from llmrec_django.database import vector_cache
from llmrec_django.database.reads import Read, array_literal, fetch
from llmrec_django.database.vector_cache import matrix_from_binary
from llmrec_django.models import EmbeddingVersion, ItemVector, Tenant, UserVector

logger = logging.getLogger(__name__)

# Rows per INSERT when writing user vectors: large enough to amortise round trips, small enough to
# keep one statement's parameters well under PostgreSQL's 65535 limit (6 params per row).
WRITE_BATCH_ROWS = 2000


# Key of the advisory lock that serialises HNSW index builds (any constant unique to this app).
INDEX_BUILD_LOCK = 0x6C6C6D726563  # "llmrec"


class VersionStateError(RuntimeError):
    """An operation was asked of a version in the wrong state (e.g. activating a failed build)."""


class BadVector(ValueError):
    """A vector that cannot be stored or searched with: not one-dimensional, not finite, or not
    of the version's dimension."""


# What a vector read or search raises when the vectors cannot be used: the database refused it
# (a missing or broken table or index, the search's statement timeout) or the query vector is
# bad. The recommend service answers from popularity then; anything else is a bug and surfaces.
READ_ERRORS = (DatabaseError, BadVector)


@dataclass(frozen=True)
class Neighbour:
    item_id: int
    score: float  # cosine similarity, 1 = same direction
    vector: np.ndarray | None = None  # the item's vector, when asked for (``with_vectors``)


def finite_vector(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """``vector`` as float32, refusing NaN/inf (they would poison the index) and other shapes."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise BadVector("A vector must be one-dimensional and finite.")
    return array


def vector_literal(vector: Sequence[float] | np.ndarray) -> str:
    """pgvector's text form, refusing NaN/inf (they would poison the index)."""
    array = finite_vector(vector)
    return "[" + ",".join(map(repr, array.tolist())) + "]"  # tolist: Python floats, no numpy scalars


def _check_dimension(version: EmbeddingVersion, vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != version.dimension:
        raise ValueError(f"Version {version.pk} holds {version.dimension}-d vectors, got shape {vectors.shape}.")
    if not np.all(np.isfinite(vectors)):
        raise ValueError("Vectors must be finite (no NaN or infinity).")
    return vectors


# ---------------------------------------------------------------------------------------------
# Versions


def create_version(tenant: Tenant, *, model_name: str, model_path: str, dimension: int) -> EmbeddingVersion:
    return EmbeddingVersion.objects.create(
        tenant=tenant, model_name=model_name, model_path=model_path, dimension=dimension
    )


def active_version(tenant: Tenant | int) -> EmbeddingVersion | None:
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    return EmbeddingVersion.objects.filter(tenant_id=tenant_id, status=EmbeddingVersion.Status.ACTIVE).first()


def activate_version(version: EmbeddingVersion) -> EmbeddingVersion:
    """Make ``version`` the tenant's active one, atomically; the previous one stays READY."""
    with transaction.atomic():
        # Lock the tenant's versions so two switches cannot interleave.
        versions = list(EmbeddingVersion.objects.select_for_update().filter(tenant_id=version.tenant_id))
        current = next((v for v in versions if v.pk == version.pk), None)
        if current is None:
            raise VersionStateError(f"Version {version.pk} does not exist.")
        if current.status == EmbeddingVersion.Status.ACTIVE:
            return current
        if current.status != EmbeddingVersion.Status.READY:
            raise VersionStateError(f"Version {version.pk} is {current.status}; only a ready version can be activated.")
        EmbeddingVersion.objects.filter(tenant_id=version.tenant_id, status=EmbeddingVersion.Status.ACTIVE).update(
            status=EmbeddingVersion.Status.READY
        )
        current.status = EmbeddingVersion.Status.ACTIVE
        current.activated_at = timezone.now()
        current.save(update_fields=["status", "activated_at"])
    version.refresh_from_db()
    return version


def rollback(tenant: Tenant) -> EmbeddingVersion:
    """Re-activate the version that was active before the current one."""
    current = active_version(tenant)
    previous = (
        EmbeddingVersion.objects.for_tenant(tenant)
        .filter(status=EmbeddingVersion.Status.READY, activated_at__isnull=False)
        .exclude(pk=getattr(current, "pk", None))
        .order_by("-activated_at")
        .first()
    )
    if previous is None:
        raise VersionStateError("There is no earlier version to roll back to.")
    return activate_version(previous)


def retire_version(version: EmbeddingVersion) -> None:
    """Drop a version's index and vectors (it can no longer be rolled back to)."""
    version.refresh_from_db()
    if version.status == EmbeddingVersion.Status.ACTIVE:
        raise VersionStateError("The active version cannot be retired; activate another one first.")
    drop_index(version)
    ItemVector.objects.filter(version=version).delete()
    UserVector.objects.filter(version=version).delete()
    version.status = EmbeddingVersion.Status.RETIRED
    version.retired_at = timezone.now()
    version.save(update_fields=["status", "retired_at"])


# ---------------------------------------------------------------------------------------------
# Writing vectors


# Rows per COPY transaction in ``write_item_vectors``: a staging table of this many 384-d rows is
# about 150 MB, and each batch commits on its own so a million-item load never holds one huge
# transaction.
COPY_BATCH_ROWS = 100_000

_VECTOR_STAGE = "llmrec_copy_itemvectors"


def write_item_vectors(
    version: EmbeddingVersion, item_ids: Sequence[int], vectors: np.ndarray, content_hashes: Sequence[str]
) -> int:
    """Insert or replace the vectors of ``item_ids`` in ``version``; running it twice is harmless.

    Binary COPY into a staging table, then one upsert: the vectors travel as float32 (pgvector's
    binary format) rather than text literals, about 10x faster than multi-row INSERTs, which is
    what a million-item re-embed needs; a single incremental item pays one small COPY.
    """
    vectors = _check_dimension(version, vectors)
    if not (len(item_ids) == len(vectors) == len(content_hashes)):
        raise ValueError("item_ids, vectors and content_hashes must have the same length.")
    for start in range(0, len(item_ids), COPY_BATCH_ROWS):
        stop = start + COPY_BATCH_ROWS
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            # COPY is psycopg's own API; the vector dumper goes on this cursor only, so Django's
            # connection keeps its text I/O.
            _binary_vector_cursor(cursor.cursor.connection) as raw,
        ):
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_VECTOR_STAGE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_VECTOR_STAGE} (item_id bigint, embedding vector, content_hash text)"
            )
            with raw.copy(
                f"COPY {_VECTOR_STAGE} (item_id, embedding, content_hash) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "vector", "text"])
                for item_id, vector, content_hash in zip(
                    item_ids[start:stop], vectors[start:stop], content_hashes[start:stop], strict=True
                ):
                    copy.write_row((int(item_id), vector, content_hash))
            cursor.execute(
                "INSERT INTO llmrec_django_itemvector (tenant_id, version_id, item_id, embedding, content_hash, "
                f"updated_at) SELECT %s, %s, item_id, embedding, content_hash, now() FROM {_VECTOR_STAGE} "
                "ON CONFLICT (version_id, item_id) DO UPDATE SET embedding = EXCLUDED.embedding, "
                "content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at",
                [version.tenant_id, version.pk],
            )
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_VECTOR_STAGE}")
    return len(item_ids)


def write_user_vectors(
    version: EmbeddingVersion, user_ids: Sequence[int], vectors: np.ndarray, events_used: Sequence[int]
) -> int:
    """Insert or replace user interest vectors in ``version``.

    One statement per ``WRITE_BATCH_ROWS`` users, the rows as three array parameters sent in
    binary (the vectors in pgvector's binary form): the workers write the vectors of every user
    with new events, a few hundred each pass under load, and as text each vector cost 0.3 ms to
    format (a quarter of a refresh) and the server as much to parse."""
    vectors = _check_dimension(version, vectors)
    if not (len(user_ids) == len(vectors) == len(events_used)):
        raise ValueError("user_ids, vectors and events_used must have the same length.")
    now = timezone.now()
    with (
        connection.cursor() as django_cursor,
        connection.wrap_database_errors,
        _binary_vector_cursor(django_cursor.cursor.connection) as cursor,
    ):
        for start in range(0, len(user_ids), WRITE_BATCH_ROWS):
            stop = start + WRITE_BATCH_ROWS
            cursor.execute(
                "INSERT INTO llmrec_django_uservector (tenant_id, version_id, user_id, embedding, events_used, "
                "updated_at) SELECT %b, %b, u.user_id, u.embedding, u.events_used, %b "
                "FROM unnest(%b::bigint[], %b::vector[], %b::integer[]) AS u(user_id, embedding, events_used) "
                "ON CONFLICT (version_id, user_id) DO UPDATE SET embedding = EXCLUDED.embedding, "
                "events_used = EXCLUDED.events_used, updated_at = EXCLUDED.updated_at",
                [
                    version.tenant_id,
                    version.pk,
                    now,
                    [int(u) for u in user_ids[start:stop]],
                    list(vectors[start:stop]),
                    [int(n) for n in events_used[start:stop]],
                ],
            )
    return len(user_ids)


# pgvector's type on each database connection (its oid differs between databases), read once,
# and its binary dumper per oid: made once, as a class made on every call is never freed.
_vector_types: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_vector_dumpers: dict[int, type] = {}


def _binary_vector_cursor(raw_connection):
    """A psycopg cursor on Django's connection (so in its transaction) that sends numpy arrays
    as pgvector values in binary and binds its parameters on the server; close it after use."""
    import psycopg
    from pgvector.psycopg.vector import VectorBinaryDumper
    from psycopg.types import TypeInfo

    info = _vector_types.get(raw_connection)
    if info is None:
        info = _vector_types[raw_connection] = TypeInfo.fetch(raw_connection, "vector")
        if info is None:
            raise DatabaseError("The vector type (pgvector) is not installed in this database.")
    dumper = _vector_dumpers.get(info.oid)
    if dumper is None:
        dumper = _vector_dumpers[info.oid] = type("VectorBinaryDumper", (VectorBinaryDumper,), {"oid": info.oid})
    cursor = psycopg.Cursor(raw_connection)
    info.register(cursor)  # vector[] for the array parameter
    cursor.adapters.register_dumper("numpy.ndarray", dumper)
    return cursor


def _from_binary(data: bytes | memoryview) -> np.ndarray:
    """A vector in pgvector's binary form (``vector_send``): int16 dimension, int16 unused, then
    big-endian float32s."""
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


def _rows_from_binary(values: Sequence[bytes | memoryview]) -> np.ndarray:
    """Vectors in pgvector's binary form, of one dimension, as the rows of one matrix (one
    conversion for all of them rather than one per vector)."""
    return matrix_from_binary(b"".join(values), len(values))


def item_vectors_read(
    version: EmbeddingVersion, item_ids: Iterable[int], *, cached: bool = False
) -> Read[dict[int, np.ndarray]]:
    """The vectors of ``item_ids`` in ``version``.

    Read in pgvector's binary form: the text form costs the server a float-to-decimal per
    component and us a ``float()`` per component, which for the few hundred candidates of a
    recommendation took longer than the vector search itself. ``cached``: from this process's
    matrix of the version where there is one (``vector_cache``; up to
    ``IN_PROCESS_SEARCH_SECONDS`` old), the rest from PostgreSQL.
    """
    ids = sorted({int(i) for i in item_ids})
    known: dict[int, np.ndarray] = {}
    matrix = vector_cache.matrix_for(version) if cached and ids else None
    if matrix is not None:
        known, ids = matrix.vectors_of(ids)

    def parse(rows: list[tuple]) -> dict[int, np.ndarray]:
        read = dict(zip([row[0] for row in rows], _rows_from_binary([row[1] for row in rows]), strict=True))
        return {**known, **read} if known else read

    return Read(
        "SELECT item_id, vector_send(embedding) FROM llmrec_django_itemvector "
        "WHERE version_id = %s AND item_id = ANY(%s::bigint[])"
        if ids
        else None,
        [version.pk, array_literal(ids)],
        parse,
    )


def item_vectors(version: EmbeddingVersion, item_ids: Iterable[int], *, cached: bool = False) -> dict[int, np.ndarray]:
    """The vectors of ``item_ids`` in ``version``, in one query (``cached``: as ``item_vectors_read``)."""
    return fetch(item_vectors_read(version, item_ids, cached=cached))[0]


def user_vector_read(version: EmbeddingVersion, user_id: int) -> Read[np.ndarray | None]:
    return Read(
        "SELECT vector_send(embedding) FROM llmrec_django_uservector WHERE version_id = %s AND user_id = %s",
        [version.pk, int(user_id)],
        lambda rows: _from_binary(rows[0][0]) if rows else None,
    )


def user_vector(version: EmbeddingVersion, user_id: int) -> np.ndarray | None:
    return fetch(user_vector_read(version, user_id))[0]


# ---------------------------------------------------------------------------------------------
# The per-version HNSW index


def build_index(version: EmbeddingVersion, *, concurrently: bool = True) -> None:
    """Create the version's HNSW cosine index (idempotent).

    ``CONCURRENTLY`` keeps writes to the vector table flowing during the build; it cannot run
    inside a transaction, so callers that hold one (tests) pass ``concurrently=False``.
    """
    dim = int(version.dimension)
    sql = (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {version.index_name} "
        f"ON llmrec_django_itemvector USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
        f"WITH (m = {int(llmrec_settings.HNSW_M)}, ef_construction = {int(llmrec_settings.HNSW_EF_CONSTRUCTION)}) "
        f"WHERE version_id = {int(version.pk)}"
    )
    with connection.cursor() as cursor:
        if concurrently and connection.in_atomic_block:
            raise RuntimeError("build_index(concurrently=True) cannot run inside a transaction.")
        # An earlier interrupted CONCURRENTLY build leaves an INVALID index that IF NOT EXISTS
        # would keep; drop it so the build starts clean.
        cursor.execute(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s",
            [version.index_name],
        )
        row = cursor.fetchone()
        if row is not None and not row[0]:
            cursor.execute(f"DROP INDEX {'CONCURRENTLY ' if concurrently else ''}IF EXISTS {version.index_name}")
        if connection.in_atomic_block:
            # Django's foreign keys are deferred; pending checks would block CREATE INDEX.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # The graph must fit in maintenance_work_mem or pgvector falls back to a much slower
        # on-disk build; raise it to at least 512 MB, but never lower what the server or the
        # session already gives (a million 384-d vectors need about 2 GB).
        cursor.execute("SELECT pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('512MB')")
        raise_memory = cursor.fetchone()[0]
        if raise_memory:
            cursor.execute("SET maintenance_work_mem = '512MB'")
        # Two CREATE INDEX CONCURRENTLY on the shared vector table (two tenants building at once)
        # wait for each other's snapshots and deadlock; a session-level advisory lock makes
        # builds take turns. Builds are rare and minutes long, so queueing costs nothing real.
        cursor.execute("SELECT pg_advisory_lock(%s)", [INDEX_BUILD_LOCK])
        try:
            cursor.execute(sql)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [INDEX_BUILD_LOCK])
            if raise_memory:
                cursor.execute("RESET maintenance_work_mem")


def drop_index(version: EmbeddingVersion) -> None:
    with connection.cursor() as cursor:
        concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
        cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {version.index_name}")


def index_exists(version: EmbeddingVersion) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s",
            [version.index_name],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


# ---------------------------------------------------------------------------------------------
# Search


def constraint_sql(constraint: Constraint) -> tuple[str, list]:
    """A hard constraint of a request (``core.intent``) as a condition on ``i`` (the item row)
    and its parameters. Attribute values are compared in JSON, through ``jsonb_path_exists``
    with the values passed as variables (never spliced in): a list attribute matches when any
    element does, and a value of another type never satisfies a comparison."""
    if constraint.attribute == "category":
        condition = "lower(i.category) = ANY(%s)"
        values = [str(v).lower() for v in constraint.value]
        return (condition if constraint.op == "in" else f"NOT ({condition})"), [values]
    key = json.dumps(constraint.attribute)
    if constraint.op == "is":
        contains = "i.attributes @> %s::jsonb"
        document = json.dumps({constraint.attribute: True})
        return (contains if constraint.value else f"NOT ({contains})"), [document]
    if constraint.op in ("in", "not_in"):
        values = {f"v{n}": value for n, value in enumerate(constraint.value)}
        test = " || ".join(f"@ == ${name}" for name in values) or "false"
        condition = "jsonb_path_exists(i.attributes, %s::jsonpath, %s::jsonb)"
        params = [f"lax $.{key} ? ({test})", json.dumps(values)]
        return (condition if constraint.op == "in" else f"NOT ({condition})"), params
    if constraint.op not in ("<=", ">=", "<", ">"):
        raise ValueError(f"Unknown constraint operator {constraint.op!r}.")
    path = f'lax $.{key} ? (@.type() == "number" && @ {constraint.op} $n)'
    return "jsonb_path_exists(i.attributes, %s::jsonpath, %s::jsonb)", [
        path,
        json.dumps({"n": float(constraint.value)}),
    ]


def _search_sql(
    version: EmbeddingVersion,
    k: int,
    exclude: bool,
    active_only: bool,
    category: bool = False,
    max_price: bool = False,
    with_vectors: bool = False,
    conditions: Sequence[str] = (),
) -> str:
    dim = int(version.dimension)
    where = ["v.version_id = %s"]
    if exclude:
        where.append("NOT (v.item_id = ANY(%s::bigint[]))")
    join = ""
    if active_only or category or max_price or conditions:
        join = " JOIN llmrec_django_item i ON i.id = v.item_id"
    if active_only:
        where.append("i.is_active")
    if category:
        where.append("lower(i.category) = lower(%s)")
    if max_price:
        # Only numeric prices compare; an item without one does not satisfy a price ceiling.
        where.append("jsonb_typeof(i.attributes->'price') = 'number' AND (i.attributes->>'price')::float8 <= %s")
    where.extend(f"({condition})" for condition in conditions)
    # relaxed_order (pgvector 0.8 iterative scans) may return rows slightly out of order, so the
    # outer query sorts the materialised candidates again.
    return (
        "WITH candidates AS MATERIALIZED ("
        f"  SELECT v.item_id, v.embedding::vector({dim}) <=> %s::vector({dim}) AS distance"
        + (", v.embedding" if with_vectors else "")
        + f"  FROM llmrec_django_itemvector v{join}"
        f"  WHERE {' AND '.join(where)}"
        f"  ORDER BY v.embedding::vector({dim}) <=> %s::vector({dim})"
        f"  LIMIT {int(k)}"
        ") SELECT item_id, distance"
        + (", vector_send(embedding)" if with_vectors else "")
        + " FROM candidates ORDER BY distance, item_id"
    )


def nearest_items_read(
    version: EmbeddingVersion,
    vector: Sequence[float] | np.ndarray,
    k: int,
    *,
    exclude_item_ids: Sequence[int] = (),
    active_only: bool = True,
    exact: bool = False,
    ef_search: int | None = None,
    category: str | None = None,
    max_price: float | None = None,
    with_vectors: bool = False,
    constraints: Sequence[Constraint] = (),
) -> Read[list[Neighbour]]:
    """``nearest_items`` as a read, to share a round trip with others (``reads.fetch``)."""
    array = finite_vector(vector)
    if len(array) != version.dimension:
        raise BadVector(f"Query vector must have {version.dimension} dimensions.")
    filtered = category is not None or max_price is not None or bool(constraints)
    if not exact and ef_search is None and active_only and not filtered:
        matrix = vector_cache.matrix_for(version)
        if matrix is not None:  # exact, in this process (llmrec_django.database.vector_cache)
            found = [
                Neighbour(item_id=item_id, score=score, vector=row)
                for item_id, score, row in matrix.search(array, k, exclude_item_ids, with_vectors=with_vectors)
            ]
            return Read(None, [], lambda _rows: found)
    literal = vector_literal(array)
    exclude = bool(exclude_item_ids)
    conditions = [constraint_sql(constraint) for constraint in constraints]
    sql = _search_sql(
        version, k, exclude, active_only, category is not None, max_price is not None, with_vectors,
        [condition for condition, _ in conditions],
    )  # fmt: skip
    params: list = [literal, version.pk]
    if exclude:
        params.append(array_literal(map(int, exclude_item_ids)))
    if category is not None:
        params.append(category)
    if max_price is not None:
        params.append(float(max_price))
    for _, values in conditions:
        params.extend(values)
    params.append(literal)
    if exact:
        settings = {"enable_indexscan": "off"}
    else:
        ef = max(int(ef_search or llmrec_settings.HNSW_EF_SEARCH), k)
        settings = {"hnsw.ef_search": str(ef), "hnsw.iterative_scan": "relaxed_order"}
        timeout = int(llmrec_settings.SEARCH_STATEMENT_TIMEOUT_MS)
        if timeout > 0:  # a search that cannot use its index ends, and the service falls back
            settings["statement_timeout"] = str(timeout)

    def parse(rows: list[tuple]) -> list[Neighbour]:
        vectors = _rows_from_binary([row[2] for row in rows]) if with_vectors else [None] * len(rows)
        return [
            Neighbour(item_id=row[0], score=1.0 - float(row[1]), vector=vector)
            for row, vector in zip(rows, vectors, strict=True)
        ]

    return Read(sql if k > 0 else None, params, parse, settings=settings)


def nearest_items(
    version: EmbeddingVersion,
    vector: Sequence[float] | np.ndarray,
    k: int,
    *,
    exclude_item_ids: Sequence[int] = (),
    active_only: bool = True,
    exact: bool = False,
    ef_search: int | None = None,
    category: str | None = None,
    max_price: float | None = None,
    with_vectors: bool = False,
    constraints: Sequence[Constraint] = (),
) -> list[Neighbour]:
    """The ``k`` items of ``version`` closest (cosine) to ``vector`` (with their vectors when
    ``with_vectors``: saves the caller reading them again) that satisfy ``constraints`` (a
    request's hard constraints, ``core.intent``).

    Uses the version's HNSW index with iterative scans, so excluded, inactive or filtered-out
    items (``category``: exact name, case-insensitive; ``max_price``: numeric
    ``attributes["price"]`` at most this) never leave the list short; ``exact=True`` scans
    without the index (the reference for recall). The index settings are set for the search's
    transaction only, in the same round trip (``reads.fetch``).
    """
    if k <= 0:
        return []
    return fetch(
        nearest_items_read(
            version,
            vector,
            k,
            exclude_item_ids=exclude_item_ids,
            active_only=active_only,
            exact=exact,
            ef_search=ef_search,
            category=category,
            max_price=max_price,
            with_vectors=with_vectors,
            constraints=constraints,
        )  # fmt: skip
    )[0]


def explain_nearest(version: EmbeddingVersion, vector: Sequence[float] | np.ndarray, k: int) -> str:
    """The query plan of ``nearest_items`` (to show, and test, that the HNSW index is used)."""
    literal = vector_literal(vector)
    sql = _search_sql(version, k, exclude=False, active_only=False)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute("EXPLAIN " + sql, [literal, version.pk, literal])
        return "\n".join(row[0] for row in cursor.fetchall())


def recall_against_exact(version: EmbeddingVersion, queries: np.ndarray, k: int = 10) -> float:
    """Mean recall@k of the index against exact search for ``queries`` (rows are vectors)."""
    if len(queries) == 0:
        return math.nan
    recalls = []
    for query in queries:
        approximate = {n.item_id for n in nearest_items(version, query, k, active_only=False)}
        exact = {n.item_id for n in nearest_items(version, query, k, active_only=False, exact=True)}
        if exact:
            recalls.append(len(approximate & exact) / len(exact))
    return float(np.mean(recalls)) if recalls else math.nan
