"""The SQL the importers share: looking up and creating referenced rows, staging tables filled by
COPY, ``INSERT ... SELECT`` statements built from a model, batching and progress."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Model

from llmrec_django.catalogue.importing.readers import (
    InvalidRecord,
    Row,
)
from llmrec_django.catalogue.importing.report import ImportReport
from llmrec_django.catalogue.importing.validation import RowError
from llmrec_django.conf import llmrec_settings
from llmrec_django.models import Entity, Interaction, Item, Relation, UserProfile

# A callback told how many more rows were processed (drives a progress bar).
Progress = Callable[[int], None]
# Makes a progress callback for one file, given a label; the command's makes tqdm bars.
ProgressFactory = Callable[[str], AbstractContextManager[Progress]]


ITEM_TABLE = Item._meta.db_table
USER_TABLE = UserProfile._meta.db_table
EVENT_TABLE = Interaction._meta.db_table
ENTITY_TABLE = Entity._meta.db_table
RELATION_TABLE = Relation._meta.db_table


def default_batch_size() -> int:
    """Rows per batch: ``LLMREC["IMPORT_BATCH_SIZE"]`` (50,000 by default).

    Large enough that the fixed cost of a batch (lookups, a staging table, a commit) is spread
    over many rows; small enough that a batch's rows, its transaction and the time between
    progress updates stay modest.
    """
    return int(llmrec_settings.IMPORT_BATCH_SIZE)


# --- looking up and creating referenced rows --------------------------------------------------


def _lookup(cursor: Any, table: str, tenant_id: int, external_ids: Collection[str], columns: str) -> dict[str, Any]:
    """external_id -> (columns...) of the tenant's rows among ``external_ids``, in one query."""
    if not external_ids:
        return {}
    cursor.execute(
        f"SELECT external_id, {columns} FROM {table} WHERE tenant_id = %s AND external_id = ANY(%s)",
        [tenant_id, list(external_ids)],
    )
    return {row[0]: row[1:] for row in cursor.fetchall()}


def lookup_ids(cursor: Any, table: str, tenant_id: int, external_ids: Collection[str]) -> dict[str, int]:
    """external_id -> primary key of the tenant's rows among ``external_ids``."""
    return {external_id: pk for external_id, (pk,) in _lookup(cursor, table, tenant_id, external_ids, "id").items()}


def _user_ids(cursor: Any, tenant_id: int, external_ids: Collection[str]) -> tuple[dict[str, int], int]:
    """external_id -> user profile id, creating the missing profiles; and how many were created.

    Sites send events for shoppers they never announced, so unknown users are created, not
    refused.
    """
    ids = lookup_ids(cursor, USER_TABLE, tenant_id, external_ids)
    missing = sorted(set(external_ids) - ids.keys())
    if not missing:
        return ids, 0
    sql, params = insert_select(
        UserProfile,
        {"tenant_id": "%(tenant)s", "external_id": "u.external_id"},
        """
FROM unnest(%(external_ids)s::text[]) AS u (external_id)
ON CONFLICT (tenant_id, external_id) DO NOTHING
RETURNING external_id, id""",
    )
    cursor.execute(sql, {**params, "tenant": tenant_id, "external_ids": missing})
    created = dict(cursor.fetchall())
    ids.update(created)
    if len(created) < len(missing):  # created meanwhile by a concurrent import
        ids.update(lookup_ids(cursor, USER_TABLE, tenant_id, set(missing) - created.keys()))
    return ids, len(created)


def _entity_ids(
    cursor: Any, tenant_id: int, keys: Collection[tuple[str, str]]
) -> tuple[dict[tuple[str, str], int], int]:
    """(entity_type, name) -> entity id, creating the missing entities; and how many were created."""
    if not keys:
        return {}, 0

    def lookup(wanted: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        cursor.execute(
            f"SELECT entity_type, name, id FROM {ENTITY_TABLE} WHERE tenant_id = %s AND name = ANY(%s)",
            [tenant_id, sorted({name for _, name in wanted})],
        )
        return {(entity_type, name): pk for entity_type, name, pk in cursor.fetchall() if (entity_type, name) in wanted}

    ids = lookup(set(keys))
    missing = sorted(set(keys) - ids.keys())
    if not missing:
        return ids, 0
    sql, params = insert_select(
        Entity,
        {"tenant_id": "%(tenant)s", "entity_type": "e.entity_type", "name": "e.name"},
        """
FROM unnest(%(types)s::text[], %(names)s::text[]) AS e (entity_type, name)
ON CONFLICT (tenant_id, entity_type, name) DO NOTHING
RETURNING entity_type, name, id""",
    )
    cursor.execute(
        sql, {**params, "tenant": tenant_id, "types": [t for t, _ in missing], "names": [n for _, n in missing]}
    )
    created = {(entity_type, name): pk for entity_type, name, pk in cursor.fetchall()}
    ids.update(created)
    if len(created) < len(missing):  # created meanwhile by a concurrent import
        ids.update(lookup(set(missing) - created.keys()))
    return ids, len(created)


# --- helpers ---------------------------------------------------------------------------------


def _batches(rows: Iterable[Row], batch_size: int | None) -> Iterator[list[Row]]:
    size = batch_size or default_batch_size()
    if size < 1:
        raise ValueError(f"batch size must be positive, not {size}")
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _clean_rows(
    batch: Sequence[Row], clean: Callable[[Mapping[str, Any]], tuple[Any, ...]], report: ImportReport
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(line_no, clean tuple)`` for the good rows of a batch; bad ones go to the report."""
    report.rows_read += len(batch)
    for line_no, row in batch:
        if isinstance(row, InvalidRecord):
            report.add_bad(line_no, row.message)
            continue
        try:
            yield line_no, clean(row)
        except RowError as error:
            report.add_bad(line_no, str(error))


@contextlib.contextmanager
def _staging_table(cursor: Any, name: str, columns: Mapping[str, str], rows: Iterable[Sequence[Any]]) -> Iterator[None]:
    """A temporary table filled with ``rows`` by COPY, dropped afterwards.

    Created and dropped inside the batch's transaction: a failed batch leaves nothing behind, and
    it works inside the outer transaction of a test as well.
    """
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    # Django's cursor wraps psycopg's; COPY is psycopg's own API.
    with cursor.cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    yield
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")


def insert_select(model: type[Model], values: Mapping[str, str], rest: str) -> tuple[str, dict[str, Any]]:
    """``INSERT INTO <model table> (columns) SELECT <expressions> <rest>`` and its parameters.

    ``values`` maps columns to SQL expressions; every other column is filled the way
    ``Model.save()`` would: ``now()`` for auto_now(_add) fields, NULL for nullable ones without a
    default, else the field's default (a parameter ``default_<column>``; "" for text fields).
    So the raw SQL keeps working when a NOT NULL field with a default is added to a model.
    """
    columns, expressions, params = list(values), list(values.values()), {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in values:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expression = "now()"
        elif field.has_db_default() or (field.null and not field.has_default()):
            continue  # the database fills it (db_default, or NULL)
        else:
            default = field.get_default()  # "" for text fields without a default, like save()
            if default is None:
                raise ImproperlyConfigured(
                    f"The importer does not fill {model.__name__}.{field.name} (NOT NULL, no default)."
                )
            expression = f"%(default_{field.column})s"
            params[f"default_{field.column}"] = field.get_db_prep_save(default, connection)
        columns.append(field.column)
        expressions.append(expression)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)})\nSELECT {', '.join(expressions)}{rest}"
    return sql, params


def _execute(cursor: Any, statement: tuple[str, dict[str, Any]], tenant_id: int) -> None:
    sql, params = statement
    cursor.execute(sql, {**params, "tenant": tenant_id})


def open_progress(factory: ProgressFactory | None, label: str) -> AbstractContextManager[Progress | None]:
    """The progress callback for one file (``None`` without a factory), as a context manager."""
    return factory(label) if factory is not None else contextlib.nullcontext(None)


def _tick(progress: Progress | None, rows: int) -> None:
    if progress is not None:
        progress(rows)
