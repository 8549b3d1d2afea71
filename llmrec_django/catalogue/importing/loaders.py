"""The bulk import services: items, users, relations and events into one tenant.

Each ``import_*`` function takes rows as ``(line_no, row)`` pairs (from ``readers`` or any other
source, e.g. ``movielens``) and returns an ``ImportReport``. Rows are handled in batches, each in
one transaction:

1. every row is checked and normalised in Python (``validation``); a failing row is recorded as
   bad with its line and left out;
2. the external ids the batch names are looked up in one query per kind (``external_id =
   ANY(...)``); an event or relation naming an item unknown in the tenant is a bad row, unknown
   users (and knowledge-graph entities) are created in one ``INSERT ... ON CONFLICT DO NOTHING``;
3. the rows, now carrying primary keys, are copied with PostgreSQL ``COPY`` into a temporary
   staging table and moved into the app's table by one ``INSERT ... SELECT ... ON CONFLICT`` (or
   an ``UPDATE ... FROM`` joined on primary keys), so a re-run or a repeated key never
   duplicates anything.

Why look ids up rather than join the staging table with the app's tables on (tenant, external
id): the planner's statistics know nothing of a tenant whose rows were written a minute ago (a
new tenant, a first import), estimate it at one row, and pick a nested loop that scans the whole
tenant once per staged row: hours instead of seconds. A lookup by ``= ANY(array)`` and joins on
primary keys stay linear whatever the statistics say.

Good rows are committed batch by batch even when other rows are bad, and an interrupted import
can simply be run again. Nothing calls ``Model.save()`` per row; what changed is handed to
``llmrec_django.catalogue.signals`` (``items_changed``, ``users_changed``) at the end, for re-embedding.

``import_files`` reads files (CSV or JSON Lines, optionally gzipped), checks every header before
writing anything, and imports them in dependency order: items, users, relations, events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from llmrec_django.catalogue import signals
from llmrec_django.catalogue.importing.readers import (
    DEFAULT_ENCODING,
    ImportFileError,
    Row,
    check_columns,
    read_rows,
)
from llmrec_django.catalogue.importing.report import ImportReport
from llmrec_django.catalogue.importing.sql import (
    ITEM_TABLE,
    RELATION_TABLE,
    USER_TABLE,
    Progress,
    ProgressFactory,
    _batches,
    _clean_rows,
    _entity_ids,
    _execute,
    _lookup,
    _staging_table,
    _tick,
    _user_ids,
    insert_select,
    lookup_ids,
    open_progress,
)
from llmrec_django.catalogue.importing.validation import (
    ENTITY_NODE,
    EVENT_COLUMNS,
    EVENT_OPTIONAL_COLUMNS,
    ITEM_COLUMNS,
    ITEM_NODE,
    ITEM_OPTIONAL_COLUMNS,
    RELATION_COLUMNS,
    RELATION_OPTIONAL_COLUMNS,
    USER_COLUMNS,
    USER_NODE,
    USER_OPTIONAL_COLUMNS,
    clean_event,
    clean_item,
    clean_relation,
    clean_user,
)
from llmrec_django.conf import llmrec_settings
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Interaction, Item, Relation, Tenant, UserProfile

ITEMS = "items"
USERS = "users"
RELATIONS = "relations"
EVENTS = "events"
# Items and users first: relations and events may refer to items and users of the same run.
IMPORT_ORDER = (ITEMS, USERS, RELATIONS, EVENTS)

REQUIRED_COLUMNS = {ITEMS: ITEM_COLUMNS, USERS: USER_COLUMNS, RELATIONS: RELATION_COLUMNS, EVENTS: EVENT_COLUMNS}
KNOWN_COLUMNS = {
    ITEMS: ITEM_COLUMNS + ITEM_OPTIONAL_COLUMNS,
    USERS: USER_COLUMNS + USER_OPTIONAL_COLUMNS,
    RELATIONS: RELATION_COLUMNS + RELATION_OPTIONAL_COLUMNS,
    EVENTS: EVENT_COLUMNS + EVENT_OPTIONAL_COLUMNS,
}


TenantRef = Tenant | str | int | None


# --- items -----------------------------------------------------------------------------------

_ITEM_STAGE = "llmrec_import_items"
_ITEM_STAGE_COLUMNS = {
    "line_no": "bigint",
    "item_pk": "bigint",  # the existing item to update; NULL for a new one
    "external_id": "text",
    "title": "text",
    "description": "text",
    "category": "text",
    "attributes": "jsonb",
    "image_url": "text",  # NULL: keep the stored value (column not in the file)
    "is_active": "boolean",  # NULL: keep the stored value
    "content_hash": "text",
}

_UPDATE_ITEMS = f"""
UPDATE {ITEM_TABLE} AS item
SET title = s.title, description = s.description, category = s.category, attributes = s.attributes,
    image_url = COALESCE(s.image_url, item.image_url), is_active = COALESCE(s.is_active, item.is_active),
    content_hash = s.content_hash, updated_at = now()
FROM {_ITEM_STAGE} AS s
WHERE item.id = s.item_pk
"""


def _insert_items_sql() -> tuple[str, dict[str, Any]]:
    return insert_select(
        Item,
        {
            "tenant_id": "%(tenant)s",
            "external_id": "s.external_id",
            "title": "s.title",
            "description": "s.description",
            "category": "s.category",
            "attributes": "s.attributes",
            "image_url": "COALESCE(s.image_url, '')",
            "is_active": "COALESCE(s.is_active, true)",
            "content_hash": "s.content_hash",
        },
        f"""
FROM {_ITEM_STAGE} AS s
WHERE s.item_pk IS NULL
ORDER BY s.line_no
ON CONFLICT (tenant_id, external_id) DO NOTHING
RETURNING id""",
    )


def import_items(
    rows: Iterable[Row],
    tenant: TenantRef = None,
    *,
    source: str = "<items>",
    batch_size: int | None = None,
    progress: Progress | None = None,
    notify: bool = True,
) -> ImportReport:
    """Create or update items by ``(tenant, external_id)``.

    An existing item is written only when something differs. ``report.created_ids`` and
    ``report.changed_ids`` (text changed: the content hash differs) are the items to (re-)embed;
    with ``notify`` they are passed to ``signals.items_changed`` at the end. A repeated external
    id: the last row wins, the earlier ones count as duplicates.
    """
    tenant_id = resolve_tenant(tenant).pk
    report = ImportReport(ITEMS, source)
    for batch in _batches(rows, batch_size):
        latest: dict[str, tuple[int, tuple[Any, ...]]] = {}
        for line_no, item in _clean_rows(batch, clean_item, report):
            if item[0] in latest:
                report.duplicates += 1
            latest[item[0]] = (line_no, item)
        if not latest:
            _tick(progress, len(batch))
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            stored = _lookup(cursor, ITEM_TABLE, tenant_id, latest, "id, content_hash, image_url, is_active")
            staged, text_changed = [], []
            for external_id, (line_no, item) in latest.items():
                image_url, is_active, content_hash = item[5], item[6], item[7]
                if external_id not in stored:
                    staged.append((line_no, None, *item))
                    continue
                item_pk, stored_hash, stored_image_url, stored_is_active = stored[external_id]
                if content_hash != stored_hash:
                    text_changed.append(item_pk)
                elif (image_url is None or image_url == stored_image_url) and (
                    is_active is None or is_active == stored_is_active
                ):
                    report.unchanged += 1
                    continue
                staged.append((line_no, item_pk, *item))
            with _staging_table(cursor, _ITEM_STAGE, _ITEM_STAGE_COLUMNS, staged):
                cursor.execute(_UPDATE_ITEMS)
                updated = cursor.rowcount
                _execute(cursor, _insert_items_sql(), tenant_id)
                created = [item_pk for (item_pk,) in cursor.fetchall()]
        report.created += len(created)
        report.created_ids.extend(created)
        report.updated += updated
        report.changed_ids.extend(text_changed)
        # Rows created meanwhile by someone else (ON CONFLICT DO NOTHING) count as unchanged.
        report.unchanged += len(staged) - updated - len(created)
        _tick(progress, len(batch))
    if notify:
        signals.items_changed(tenant_id, report.created_ids + report.changed_ids)
    return report.finish()


# --- users -----------------------------------------------------------------------------------

_USER_STAGE = "llmrec_import_users"
_USER_STAGE_COLUMNS = {"line_no": "bigint", "user_pk": "bigint", "external_id": "text", "profile": "text"}

# A profile text from the site is marked "site"; an empty one leaves the text to the generator
# (``interest_profile``). A text the user wrote is never replaced by an import.
_TEXT_SOURCE = "CASE WHEN btrim(COALESCE(s.profile, '')) = '' THEN 'generated' ELSE 'site' END"

_UPDATE_USERS = f"""
UPDATE {USER_TABLE} AS profile
SET profile_text = s.profile, profile_text_source = {_TEXT_SOURCE}, updated_at = now()
FROM {_USER_STAGE} AS s
WHERE profile.id = s.user_pk AND profile.profile_text_source <> 'user'
"""


def _insert_users_sql() -> tuple[str, dict[str, Any]]:
    return insert_select(
        UserProfile,
        {
            "tenant_id": "%(tenant)s",
            "external_id": "s.external_id",
            "profile_text": "COALESCE(s.profile, '')",
            "profile_text_source": _TEXT_SOURCE,
        },
        f"""
FROM {_USER_STAGE} AS s
WHERE s.user_pk IS NULL
ORDER BY s.line_no
ON CONFLICT (tenant_id, external_id) DO NOTHING
RETURNING id""",
    )


def import_users(
    rows: Iterable[Row],
    tenant: TenantRef = None,
    *,
    source: str = "<users>",
    batch_size: int | None = None,
    progress: Progress | None = None,
    notify: bool = True,
) -> ImportReport:
    """Create user profiles by ``(tenant, external_id)``; ``profile`` sets ``profile_text``
    (marked as the site's; an empty one is left to the generator).

    A row without a ``profile`` key (no such column) leaves an existing profile text alone, and
    so does any row for a profile whose text the user wrote themselves (counted unchanged). With
    ``notify``, new and changed profiles go to ``signals.users_changed`` at the end.
    """
    tenant_id = resolve_tenant(tenant).pk
    report = ImportReport(USERS, source)
    changed_users: list[int] = []
    for batch in _batches(rows, batch_size):
        latest: dict[str, tuple[int, tuple[Any, ...]]] = {}
        for line_no, user in _clean_rows(batch, clean_user, report):
            if user[0] in latest:
                report.duplicates += 1
            latest[user[0]] = (line_no, user)
        if not latest:
            _tick(progress, len(batch))
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            stored = _lookup(cursor, USER_TABLE, tenant_id, latest, "id, profile_text, profile_text_source")
            staged = []
            for external_id, (line_no, (_, profile)) in latest.items():
                if external_id not in stored:
                    staged.append((line_no, None, external_id, profile))
                elif profile is not None and profile != stored[external_id][1] and stored[external_id][2] != "user":
                    staged.append((line_no, stored[external_id][0], external_id, profile))
                    changed_users.append(stored[external_id][0])
                else:
                    report.unchanged += 1
            with _staging_table(cursor, _USER_STAGE, _USER_STAGE_COLUMNS, staged):
                cursor.execute(_UPDATE_USERS)
                updated = cursor.rowcount
                _execute(cursor, _insert_users_sql(), tenant_id)
                created = [user_pk for (user_pk,) in cursor.fetchall()]
        report.created += len(created)
        report.updated += updated
        report.unchanged += len(staged) - updated - len(created)
        changed_users.extend(created)
        _tick(progress, len(batch))
    if notify:
        signals.users_changed(tenant_id, changed_users)
    return report.finish()


# --- relations -------------------------------------------------------------------------------

_RELATION_STAGE = "llmrec_import_relations"
_RELATION_STAGE_COLUMNS = {
    "line_no": "bigint",
    "head_item_id": "bigint",
    "head_entity_id": "bigint",
    "head_user_id": "bigint",
    "relation": "text",
    "tail_item_id": "bigint",
    "tail_entity_id": "bigint",
    "tail_user_id": "bigint",
    "weight": "double precision",
}
# The columns that identify an edge (the unique constraint, besides the tenant).
_EDGE_COLUMNS = tuple(column for column in _RELATION_STAGE_COLUMNS if column not in ("line_no", "weight"))


def _upsert_relations_sql() -> tuple[str, dict[str, Any]]:
    """An existing edge keeps its row; only a different weight is written. RETURNING tells
    inserted rows (xmax = 0) from updated ones, with the head item (its text lists its edges)."""
    return insert_select(
        Relation,
        {"tenant_id": "%(tenant)s", **{column: f"s.{column}" for column in _EDGE_COLUMNS}, "weight": "s.weight"},
        f"""
FROM {_RELATION_STAGE} AS s
ORDER BY s.line_no
ON CONFLICT (tenant_id, {", ".join(_EDGE_COLUMNS)})
DO UPDATE SET weight = EXCLUDED.weight WHERE {RELATION_TABLE}.weight IS DISTINCT FROM EXCLUDED.weight
RETURNING ({RELATION_TABLE}.xmax = 0) AS inserted, {RELATION_TABLE}.head_item_id""",
    )


def import_relations(
    rows: Iterable[Row],
    tenant: TenantRef = None,
    *,
    source: str = "<relations>",
    batch_size: int | None = None,
    progress: Progress | None = None,
    notify: bool = True,
) -> ImportReport:
    """Create knowledge-graph edges ``head -relation-> tail`` with a weight.

    An end of type "item" must name an existing item of the tenant (else the row is bad); "user"
    names a user profile (created if unknown); any other type is an entity of that type, created
    if missing. Re-importing an edge updates its weight; the last row of a repeated edge wins.
    With ``notify``, the head items of new or changed edges (their text lists their edges) go to
    ``signals.items_changed`` at the end.
    """
    tenant_id = resolve_tenant(tenant).pk
    report = ImportReport(RELATIONS, source)
    head_items: set[int] = set()
    for batch in _batches(rows, batch_size):
        latest: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
        for line_no, relation in _clean_rows(batch, clean_relation, report):
            edge = relation[:7]  # everything but the weight
            if edge in latest:
                report.duplicates += 1
            latest[edge] = (line_no, relation)
        if not latest:
            _tick(progress, len(batch))
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            item_ids = lookup_ids(
                cursor,
                ITEM_TABLE,
                tenant_id,
                {i for e in latest for kind, _, i in (e[:3], e[4:7]) if kind == ITEM_NODE},
            )
            staged = []
            for line_no, relation in latest.values():
                head_kind, _, head_id, name, tail_kind, _, tail_id, weight = relation
                unknown = [
                    f"{end} item {external_id!r}"
                    for end, kind, external_id in (("head", head_kind, head_id), ("tail", tail_kind, tail_id))
                    if kind == ITEM_NODE and external_id not in item_ids
                ]
                if unknown:
                    report.add_bad(line_no, f"unknown {' and '.join(unknown)} in this tenant")
                else:
                    staged.append((line_no, relation))
            user_ids, report_users = _user_ids(
                cursor, tenant_id, {i for _, r in staged for kind, _, i in (r[:3], r[4:7]) if kind == USER_NODE}
            )
            entity_ids, report_entities = _entity_ids(
                cursor, tenant_id, {(t, i) for _, r in staged for kind, t, i in (r[:3], r[4:7]) if kind == ENTITY_NODE}
            )
            report.users_created += report_users
            report.entities_created += report_entities

            ids = {ITEM_NODE: item_ids, USER_NODE: user_ids, ENTITY_NODE: entity_ids}
            rows_to_copy = [
                (line_no, *_node_pks(ids, *r[:3]), r[3], *_node_pks(ids, *r[4:7]), r[7]) for line_no, r in staged
            ]
            with _staging_table(cursor, _RELATION_STAGE, _RELATION_STAGE_COLUMNS, rows_to_copy):
                _execute(cursor, _upsert_relations_sql(), tenant_id)
                written = cursor.fetchall()
        created = sum(1 for inserted, _ in written if inserted)
        updated = len(written) - created
        head_items.update(item_pk for _, item_pk in written if item_pk is not None)
        report.created += created
        report.updated += updated
        report.unchanged += len(staged) - created - updated
        _tick(progress, len(batch))
    if notify:
        signals.items_changed(tenant_id, head_items)
    return report.finish()


def _node_pks(ids: Mapping[str, Mapping[Any, int]], kind: str, node_type: str, node_id: str) -> tuple[Any, ...]:
    """(item id, entity id, user id) of one relation end: exactly one is set."""
    if kind == ITEM_NODE:
        return ids[ITEM_NODE][node_id], None, None
    if kind == USER_NODE:
        return None, None, ids[USER_NODE][node_id]
    return None, ids[ENTITY_NODE][node_type, node_id], None


# --- events ----------------------------------------------------------------------------------

_EVENT_STAGE = "llmrec_import_events"
_EVENT_STAGE_COLUMNS = {
    "line_no": "bigint",
    "event_id": "text",
    "user_pk": "bigint",
    "item_pk": "bigint",
    "event_type": "text",
    "value": "double precision",
    "ts": "timestamptz",
    "device": "text",
    "location": "text",
    "context": "jsonb",
}


def _insert_events_sql() -> tuple[str, dict[str, Any]]:
    """The unique (tenant, user, event_id) constraint skips events already stored (an earlier run)."""
    return insert_select(
        Interaction,
        {
            "tenant_id": "%(tenant)s",
            "event_id": "s.event_id",
            "user_id": "s.user_pk",
            "item_id": "s.item_pk",
            "event_type": "s.event_type",
            "value": "s.value",
            "timestamp": "s.ts",
            "device": "s.device",
            "location": "s.location",
            "context": "s.context",
        },
        f"""
FROM {_EVENT_STAGE} AS s
ORDER BY s.line_no
ON CONFLICT (tenant_id, user_id, event_id) DO NOTHING
RETURNING user_id""",
    )


def import_events(
    rows: Iterable[Row],
    tenant: TenantRef = None,
    *,
    source: str = "<events>",
    batch_size: int | None = None,
    progress: Progress | None = None,
    notify: bool = True,
) -> ImportReport:
    """Store interactions, each once per ``(tenant, user, event_id)``.

    The item must exist in the tenant (else the row is bad); an unknown user gets a new profile.
    A repeated event id of the same user, in the file or from an earlier run, is skipped as a
    duplicate (the first occurrence is the one kept). An empty timestamp means the time of the import. With
    ``notify``, the users with new events go to ``signals.users_changed`` at the end.
    """
    tenant_id = resolve_tenant(tenant).pk
    event_types = frozenset(llmrec_settings.EVENT_WEIGHTS)
    import_time = timezone.now()
    report = ImportReport(EVENTS, source)
    users_with_new_events: set[int] = set()

    def clean(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return clean_event(row, event_types, import_time)

    for batch in _batches(rows, batch_size):
        events: list[tuple[int, tuple[Any, ...]]] = []
        seen_event_ids: set[tuple[str, str]] = set()  # (user, event id)
        for line_no, event in _clean_rows(batch, clean, report):
            if (event[1], event[0]) in seen_event_ids:
                report.duplicates += 1
                continue
            seen_event_ids.add((event[1], event[0]))
            events.append((line_no, event))
        if not events:
            _tick(progress, len(batch))
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            item_ids = lookup_ids(cursor, ITEM_TABLE, tenant_id, {event[2] for _, event in events})
            known = []
            for line_no, event in events:
                if event[2] in item_ids:
                    known.append((line_no, event))
                else:
                    report.add_bad(line_no, f"unknown item {event[2]!r} in this tenant")
            event_users, users_created = write_events(cursor, tenant_id, known, item_ids)
        report.users_created += users_created
        report.created += len(event_users)
        report.duplicates += len(known) - len(event_users)
        users_with_new_events.update(event_users)
        _tick(progress, len(batch))
    if notify:
        signals.users_changed(tenant_id, users_with_new_events)
    return report.finish()


def write_events(
    cursor: Any, tenant_id: int, events: Sequence[tuple[int, tuple[Any, ...]]], item_ids: Mapping[str, int]
) -> tuple[list[int], int]:
    """Store clean events (``(line_no, clean_event(...))``, items known) in one COPY and one
    ``INSERT ... ON CONFLICT DO NOTHING``, creating unknown users; call inside a transaction.

    Returns the user profile id of each newly stored event (events already stored are skipped)
    and how many user profiles were created. Shared by ``import_events`` and the REST API's
    ingestion (``llmrec_django.catalogue.events``).
    """
    user_ids, users_created = _user_ids(cursor, tenant_id, {event[1] for _, event in events})
    staged = [
        (line_no, event_id, user_ids[user], item_ids[item], *rest) for line_no, (event_id, user, item, *rest) in events
    ]
    with _staging_table(cursor, _EVENT_STAGE, _EVENT_STAGE_COLUMNS, staged):
        _execute(cursor, _insert_events_sql(), tenant_id)
        event_users = [user_pk for (user_pk,) in cursor.fetchall()]
    return event_users, users_created


# --- files -----------------------------------------------------------------------------------

IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    ITEMS: import_items,
    USERS: import_users,
    RELATIONS: import_relations,
    EVENTS: import_events,
}


def check_files(files: Mapping[str, str | Path], *, encoding: str = DEFAULT_ENCODING) -> dict[str, list[str]]:
    """Check every file before anything is written: it exists, its format is known, and a CSV
    header has the required columns. Returns, per kind, the columns that will be ignored.

    Raises ``ImportFileError`` naming the file (and the missing columns).
    """
    unknown_kinds = set(files) - set(IMPORTERS)
    if unknown_kinds:
        raise ValueError(f"Unknown file kinds: {', '.join(sorted(unknown_kinds))}")
    ignored: dict[str, list[str]] = {}
    for kind, path in files.items():
        if not Path(path).is_file():
            raise ImportFileError(f"{path}: no such file.")
        header = check_columns(path, REQUIRED_COLUMNS[kind], encoding=encoding)
        ignored[kind] = [column for column in header if column not in KNOWN_COLUMNS[kind]]
    return ignored


def import_files(
    files: Mapping[str, str | Path],
    tenant: TenantRef = None,
    *,
    batch_size: int | None = None,
    encoding: str = DEFAULT_ENCODING,
    progress_factory: ProgressFactory | None = None,
) -> list[ImportReport]:
    """Import files given by kind (``{"items": path, "events": path, ...}``) into a tenant.

    All files are checked first (``check_files``), then imported in ``IMPORT_ORDER``; one report
    per file.
    """
    tenant = resolve_tenant(tenant)
    ignored = check_files(files, encoding=encoding)
    reports = []
    for kind in IMPORT_ORDER:
        if kind not in files:
            continue
        path = files[kind]
        rows = read_rows(path, REQUIRED_COLUMNS[kind], encoding=encoding)
        with open_progress(progress_factory, f"{kind}: {Path(path).name}") as progress:
            report = IMPORTERS[kind](rows, tenant, source=str(path), batch_size=batch_size, progress=progress)
        if ignored[kind]:
            report.notes.append(f"ignored unknown columns: {', '.join(ignored[kind])}")
        reports.append(report)
    return reports
