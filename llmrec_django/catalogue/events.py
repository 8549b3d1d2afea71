"""Event ingestion for live callers (the REST API, a site's own code): all or nothing, idempotent.

Usage::

    from llmrec_django.catalogue.events import EventsRejected, ingest_events

    try:
        result = ingest_events([{"event_id": "e1", "user_id": "u1", "item_id": "film-1", "event_type": "view"}])
    except EventsRejected as exc:
        exc.errors        # [{"index": 0, "field": "item_id", "message": "unknown item 'film-1' ..."}]
    result.created, result.duplicates, result.users_created

Rows are checked with the importer's rules (``importing.validation.clean_event``: required
fields, event types of ``LLMREC["EVENT_WEIGHTS"]``, finite values, ISO 8601 or Unix timestamps,
JSON-object context, no NUL characters) plus: no unknown fields, and every item must exist in the
tenant. Any bad row refuses the whole request, with one error per bad row, and nothing is
stored. Good requests are written set-based, like the importer (``importing.loaders.write_events``:
one lookup of the items, one ``INSERT ... ON CONFLICT`` creating unknown users, one COPY and one
``INSERT ... ON CONFLICT DO NOTHING`` of the events), so 10,000 events cost a few queries, and an
event id already stored (per tenant) is skipped: a retried request cannot double-count. The
users with new events get their interest vectors recomputed by the ``refresh_user_vectors``
task, written to the outbox (``llmrec_django.database.outbox``) in the events' transaction and sent once
it commits: a broker that is down delays the refresh, it never fails the request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from llmrec_django.catalogue import signals
from llmrec_django.catalogue.importing.loaders import ITEM_TABLE, lookup_ids, write_events
from llmrec_django.catalogue.importing.validation import EVENT_COLUMNS, EVENT_OPTIONAL_COLUMNS, RowError, clean_event
from llmrec_django.conf import llmrec_settings
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Tenant

EVENT_FIELDS = EVENT_COLUMNS + EVENT_OPTIONAL_COLUMNS
# The error messages of ``clean_event`` start with the field they are about.
_FIELD_IN_MESSAGE = re.compile(r"^(?:unknown )?(" + "|".join(EVENT_FIELDS) + r")\b")


class EventsRejected(ValueError):
    """The request has bad rows; nothing was stored. ``errors``: one dict per bad row."""

    def __init__(self, errors: list[dict[str, Any]], message: str | None = None):
        self.errors = errors
        super().__init__(message or f"{len(errors)} event(s) are invalid; nothing was stored.")


@dataclass
class IngestResult:
    received: int = 0
    created: int = 0
    duplicates: int = 0  # event ids already stored, or repeated in the request
    users_created: int = 0
    user_ids: list[int] = field(default_factory=list)  # profiles with new events


def _error(index: int, message: str) -> dict[str, Any]:
    match = _FIELD_IN_MESSAGE.match(message)
    return {"index": index, "field": match.group(1) if match else None, "message": message}


def ingest_events(
    rows: Sequence[Any],
    tenant: Tenant | str | int | None = None,
    *,
    max_events: int | None = None,
) -> IngestResult:
    """Store events given as dicts (see the module docstring); raises ``EventsRejected``."""
    tenant = resolve_tenant(tenant)
    limit = int(llmrec_settings.API_MAX_BULK_EVENTS if max_events is None else max_events)
    if len(rows) > limit:
        raise EventsRejected([], f"At most {limit} events per request; this one has {len(rows)}.")
    event_types = frozenset(llmrec_settings.EVENT_WEIGHTS)
    now = timezone.now()
    result = IngestResult(received=len(rows))
    errors: list[dict[str, Any]] = []
    events: list[tuple[int, tuple[Any, ...]]] = []
    seen: set[tuple[str, str]] = set()  # (user, event id)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors.append(_error(index, f"expected an event object, found {type(row).__name__}"))
            continue
        unknown = sorted(str(key) for key in row if key not in EVENT_FIELDS)
        if unknown:
            errors.append(_error(index, f"unknown field(s): {', '.join(unknown)} (known: {', '.join(EVENT_FIELDS)})"))
            continue
        try:
            event = clean_event(row, event_types, now)
        except RowError as exc:
            errors.append(_error(index, str(exc)))
            continue
        if (event[1], event[0]) in seen:
            result.duplicates += 1
            continue
        seen.add((event[1], event[0]))
        events.append((index, event))
    with transaction.atomic(), connection.cursor() as cursor:
        item_ids = lookup_ids(cursor, ITEM_TABLE, tenant.pk, {event[2] for _, event in events})
        errors.extend(
            _error(index, f"item_id: unknown item {event[2]!r} in this tenant")
            for index, event in events
            if event[2] not in item_ids
        )
        if errors:
            raise EventsRejected(sorted(errors, key=lambda e: e["index"]))
        if not events:
            return result
        event_users, users_created = write_events(cursor, tenant.pk, events, item_ids)
        signals.users_changed(tenant.pk, event_users)
    result.created = len(event_users)
    result.duplicates += len(events) - len(event_users)
    result.users_created = users_created
    result.user_ids = sorted(set(event_users))
    return result
