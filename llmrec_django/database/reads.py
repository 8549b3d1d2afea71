"""Reads that share one round trip to PostgreSQL.

A ``Read`` is a statement, its parameters and what its rows become; ``fetch`` runs several of
them in one round trip and returns their values in order. The recommend service reads what a
list needs in four round trips this way instead of eleven: a round trip costs little on an idle
machine (0.1 ms), but on a busy one each is a wake-up of the server process and then of ours,
and one in a hundred took 3 ms or more on two loaded cores.

Usage::

    from llmrec_django.database.reads import fetch

    items, vectors = fetch(data.items_read(tenant_id, ids), vectorstore.item_vectors_read(version, ids))

With psycopg's client-side binding (Django's default for psycopg 3) the statements travel as one
string, which PostgreSQL runs as one transaction; a read's ``settings`` (``hnsw.ef_search`` and
``statement_timeout`` for a vector search) are set for that transaction, so they hold for the
reads after it in the same ``fetch`` too, and never outlive it. Inside an ``atomic`` block the
reads run under a savepoint, which a failing read rolls back (the caller's transaction stays
usable, so it can answer otherwise) and which is rolled back after reads that set anything
(reads change nothing else, and the settings end there too). With server-side binding
(``OPTIONS["server_side_binding"]``) the statements run one by one, in a transaction (or
savepoint) when there are several, settings or a caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Read(Generic[T]):
    """``sql`` with ``params`` (``%s`` placeholders), a statement that returns rows, and ``parse``
    turning its rows into the value.

    ``sql`` None: nothing to ask the database (an empty list of ids); ``parse`` gets no rows.
    ``settings``: configuration parameters set for the transaction before the statement runs.
    """

    sql: str | None
    params: Sequence[Any]
    parse: Callable[[list[tuple]], T]
    settings: Mapping[str, str] = field(default_factory=dict)


def array_literal(values: Iterable[int | float]) -> str:
    """A PostgreSQL array literal of numbers, for a ``%s::bigint[]`` (or ``float8[]``) parameter.

    psycopg dumps a Python list element by element, checking each for quoting (about 2 µs an
    element); the few hundred ids a recommendation reads took longer to send than to look up."""
    return "{" + ",".join(map(str, values)) + "}"  # str, not repr: numpy scalars' repr names their type


def _settings_statement(settings: Mapping[str, str]) -> tuple[str, list[str]]:
    """One statement setting every parameter for the transaction (``set_config(..., true)``)."""
    calls = ", ".join(["set_config(%s, %s, true)"] * len(settings))
    return f"SELECT {calls}", [value for pair in settings.items() for value in pair]


def _binds_on_client(cursor: Any) -> bool:
    """Whether the cursor merges parameters into the statement text (then several statements
    can travel as one string)."""
    import psycopg

    return isinstance(cursor.cursor, psycopg.ClientCursor)


# Taken around a batch sent inside the caller's transaction, so that a failing read leaves that
# transaction usable (as Django's ``atomic`` savepoints do), at no extra round trip unless it fails.
_SAVEPOINT = "llmrec_reads"


def fetch(*reads: Read) -> tuple:
    """The value of each read, in order, from one round trip (see the module docstring)."""
    from django.db import DatabaseError, connections, transaction

    from llmrec_django.database.routing import read_alias

    alias = read_alias()  # the read replica inside ``routing.serving_reads``, else default
    connection = connections[alias]

    # (sql, params, index of the read whose rows it gives; None for a statement without rows)
    statements: list[tuple[str, Sequence[Any], int | None]] = []
    for index, read in enumerate(reads):
        if read.sql is None:
            continue
        if read.settings:
            statements.append((*_settings_statement(read.settings), None))
        statements.append((read.sql, read.params, index))
    sets_anything = any(index is None for _, _, index in statements)
    rows: list[list[tuple]] = [[] for _ in reads]
    with connection.cursor() as cursor:
        guarded = connection.in_atomic_block and bool(statements)

        def take(index: int | None) -> None:
            if index is not None:  # a read's statement returns rows (asking ``description`` costs more)
                rows[index] = cursor.fetchall()

        if (len(statements) > 1 or guarded) and _binds_on_client(cursor):
            if guarded:
                end = [f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}"] if sets_anything else []
                statements = [
                    (f"SAVEPOINT {_SAVEPOINT}", [], None),
                    *statements,
                    *[(sql, [], None) for sql in [*end, f"RELEASE SAVEPOINT {_SAVEPOINT}"]],
                ]
            try:
                cursor.execute("; ".join(sql for sql, _, _ in statements), [p for _, ps, _ in statements for p in ps])
            except DatabaseError:
                if guarded:
                    cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; RELEASE SAVEPOINT {_SAVEPOINT}")
                raise
            for position, (_, _, index) in enumerate(statements):
                if position:
                    cursor.nextset()
                take(index)
        else:
            with transaction.atomic(using=alias) if len(statements) > 1 or guarded else nullcontext():
                for sql, params, index in statements:
                    cursor.execute(sql, params)
                    take(index)
                if guarded and sets_anything:
                    transaction.set_rollback(True, using=alias)  # back to the savepoint: the settings end here
    return tuple(read.parse(rows[index]) for index, read in enumerate(reads))
