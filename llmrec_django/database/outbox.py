"""The transactional outbox: follow-up work that a broker outage cannot lose.

Work decided in a transaction (refresh these users' vectors, re-embed these items) is written
to ``PendingWork`` in that same transaction, so it is stored exactly when the data that calls
for it is. After the commit it is sent to Celery at once, best effort: a broker that is down
costs a log line, never an error for the caller, whose data is committed. The task deletes its
row when the work is done (``llmrec_django.database.deliveries.ReliableTask``), so a row disappears only
then; ``drain()`` (the ``drain_outbox`` beat task every 10 s, or ``manage.py llmrec_outbox``)
sends what was never sent, and again what was sent ``OUTBOX_RESEND_SECONDS`` ago and is still
not done (a broker restarted without persistence loses its messages). The work is idempotent, so
sending it twice costs time, not correctness; a message of work already done is skipped.

Usage::

    from llmrec_django import tasks
    from llmrec_django.database import outbox

    with transaction.atomic():
        ...  # store events
        outbox.enqueue(tenant_id, tasks.refresh_user_vectors, [(tenant_id, [3, 5, 8])])

    outbox.drain()   # DrainReport(sent=..., given_up=..., unsent=...)

Asking for the same work (same task and arguments) while it is pending adds no row: it bumps the
row's ``generation``, and a task that started before that request removes nothing, so work asked
for while a task ran is done again. Work sent ``TASK_MAX_DELIVERIES`` times without being done is
given up (``given_up_at``, logged as an error); asking for it again revives it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from llmrec_django import queues
from llmrec_django.conf import llmrec_settings
from llmrec_django.models import PendingWork

logger = logging.getLogger(__name__)

# The message header naming the outbox row (and its generation) a task message does.
HEADER = "llmrec_pending_work"
# Rows claimed per transaction by ``drain``: bounds the locks held and the messages sent between
# two commits.
DRAIN_BATCH = 500
# Rows ``pending_alike`` looks at (a task joins at most that many others' work).
COALESCE_MAX_ROWS = 200
# What a send raises when the broker cannot be reached (kombu wraps the transport's errors in
# its OperationalError; a socket error may come through as it is).
BROKER_ERRORS = (KombuOperationalError, OSError)


class PendingRef(NamedTuple):
    """One outbox row at one generation: what a task message carries in its ``HEADER``."""

    pk: int
    generation: int


@dataclass(frozen=True)
class _Claim:
    ref: PendingRef
    task: str
    args: list[Any]
    countdown: float = 0.0  # seconds the broker holds the message before a worker may take it


@dataclass
class DrainReport:
    sent: int = 0  # messages handed to the broker (or tasks run, in eager mode)
    given_up: int = 0  # rows sent TASK_MAX_DELIVERIES times without being done
    unsent: int = 0  # due rows left unsent because the broker could not be reached


def work_key(task_name: str, args: Sequence[Any]) -> str:
    return hashlib.sha256(json.dumps([task_name, list(args)], sort_keys=True).encode()).hexdigest()


_UPSERT = """
INSERT INTO {table} AS w (tenant_id, task, args, key, generation, created_at, requested_at, sent_at,
                          attempts, last_error, given_up_at)
VALUES {values}
ON CONFLICT (key) DO UPDATE SET
    generation = w.generation + 1, requested_at = EXCLUDED.requested_at, sent_at = EXCLUDED.sent_at,
    attempts = 1, last_error = '', given_up_at = NULL
RETURNING id, generation, task, args
"""


def enqueue(tenant_id: int, task: str | Any, calls: Iterable[Sequence[Any]], *, countdown: float = 0.0) -> None:
    """Store one piece of work per argument list of ``calls`` for ``task`` (a task, or a task
    name from ``llmrec_django.queues``) in the current
    transaction, and send it once the transaction commits (to be run ``countdown`` seconds
    later: work that a task can do together with later requests, as a refresh of user vectors
    does, then waits for them).

    The rows are written claimed (``sent_at`` now, one attempt) for that immediate send, which
    un-claims them if the broker cannot be reached, leaving them to ``drain``.
    """
    task_name = task if isinstance(task, str) else task.name
    by_key = {work_key(task_name, args): list(args) for args in calls}
    if not by_key:
        return
    now = timezone.now()
    params: list[Any] = []
    for key in sorted(by_key):  # one lock order for every writer: no deadlock between requests
        params += [tenant_id, task_name, json.dumps(by_key[key]), key, now, now, now]
    values = ", ".join(["(%s, %s, %s::jsonb, %s, 1, %s, %s, %s, 1, '', NULL)"] * len(by_key))
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT.format(table=PendingWork._meta.db_table, values=values), params)
        claims = [
            _Claim(PendingRef(pk, generation), name, _json(args), float(countdown))
            for pk, generation, name, args in cursor
        ]
    transaction.on_commit(lambda: _send_after_commit(claims))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _send_after_commit(claims: list[_Claim]) -> None:
    # Runs after the caller's commit: whatever goes wrong here must not reach the caller.
    try:
        _send(claims)
    except Exception:
        logger.exception("Sending %d piece(s) of outbox work failed; drain_outbox will send them.", len(claims))


def _send(claims: Sequence[_Claim]) -> tuple[int, int]:
    """Publish the claimed rows; returns (sent, unsent). At the first broker error the rest are
    un-claimed (for ``drain``) rather than each waiting for the same dead broker."""
    from celery import current_app

    sent = 0
    for index, claim in enumerate(claims):
        task = current_app.tasks.get(claim.task)
        if task is None:  # renamed or removed since the work was stored: it can never run
            logger.error("Giving up outbox work %s%s: no such task.", claim.task, tuple(claim.args))
            give_up(claim.ref, f"no task named {claim.task!r}")
            continue
        try:
            task.apply_async(
                claim.args,
                headers={HEADER: list(claim.ref)},
                countdown=claim.countdown or None,
                # No result to keep; also, subscribing to a Redis result would wait ~20 s on a
                # dead Redis before failing, where the publish fails within a second.
                ignore_result=True,
            )
        except BROKER_ERRORS as exc:
            unsent = claims[index:]
            logger.warning(
                "The broker is unreachable (%s: %s); %d piece(s) of work wait in the outbox for drain_outbox.",
                type(exc).__name__,
                exc,
                len(unsent),
            )
            _unclaim(unsent, f"{type(exc).__name__}: {exc}")
            return sent, len(unsent)
        except Exception as exc:
            # A task run eagerly that failed, or a message that cannot be sent: the row stays
            # claimed, to be sent again after the resend delay, and given up after the maximum.
            logger.exception("Outbox work %s%s failed.", claim.task, tuple(claim.args))
            _record_error(claim.ref, f"{type(exc).__name__}: {exc}")
        else:
            sent += 1
    return sent, 0


def _unclaim(claims: Sequence[_Claim], error: str) -> None:
    # Only the claimed generation: a row asked for again meanwhile is claimed by that request.
    claimed = reduce(operator.or_, (Q(pk=c.ref.pk, generation=c.ref.generation) for c in claims))
    PendingWork.objects.filter(claimed).update(sent_at=None, attempts=F("attempts") - 1, last_error=error[:10_000])


def _record_error(ref: PendingRef, error: str) -> None:
    PendingWork.objects.filter(pk=ref.pk, generation=ref.generation).update(last_error=error[:10_000])


def _resend_before() -> datetime:
    return timezone.now() - timedelta(seconds=float(llmrec_settings.OUTBOX_RESEND_SECONDS))


def _claim_due(batch_size: int, resend_before: datetime) -> tuple[list[_Claim], int]:
    """Lock due rows (skipping those another drainer holds), give up those sent too often,
    mark the others sent now. Returns the claims and the number given up."""
    now = timezone.now()
    max_sends = llmrec_settings.TASK_MAX_DELIVERIES
    with transaction.atomic():
        rows = list(
            PendingWork.objects.select_for_update(skip_locked=True)
            .filter(given_up_at__isnull=True)
            .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=resend_before))
            .order_by("pk")[:batch_size]
        )
        spent = [row for row in rows if max_sends is not None and row.attempts >= int(max_sends)]
        for row in spent:
            logger.error(
                "Giving up outbox work %s%s: sent %d times and never done (last error: %s).",
                row.task,
                tuple(row.args),
                row.attempts,
                row.last_error or "none recorded",
            )
        PendingWork.objects.filter(pk__in=[row.pk for row in spent]).update(given_up_at=now)
        due = [row for row in rows if row not in spent]
        PendingWork.objects.filter(pk__in=[row.pk for row in due]).update(sent_at=now, attempts=F("attempts") + 1)
    return [_Claim(PendingRef(row.pk, row.generation), row.task, row.args) for row in due], len(spent)


def drain(batch_size: int = DRAIN_BATCH) -> DrainReport:
    """Send every due row (never sent, or sent ``OUTBOX_RESEND_SECONDS`` ago and not done);
    stops at the first broker error. Safe to run in several processes at once."""
    report = DrainReport()
    # Fixed for the pass, so that rows it sends are not due again before it ends.
    resend_before = _resend_before()
    while True:
        claims, given_up = _claim_due(batch_size, resend_before)
        report.given_up += given_up
        if not claims:
            return report
        sent, unsent = _send(claims)
        report.sent += sent
        if unsent:
            report.unsent = _due_count(resend_before)  # the un-claimed rows and those not claimed yet
            return report


def _due_count(resend_before: datetime) -> int:
    return (
        PendingWork.objects.filter(given_up_at__isnull=True)
        .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=resend_before))
        .count()
    )


# --- the task side (``deliveries.ReliableTask``) ------------------------------------------------


# Tasks whose second argument is a list of user ids (``forget_users`` takes them out).
USER_ID_TASKS = (queues.REFRESH_USER_VECTORS, queues.GENERATE_COPY)


def forget_users(tenant_id: int, user_ids: Iterable[int]) -> int:
    """Take erased users' ids out of the tenant's pending work (``privacy.erase_user``): a row
    left with no user is deleted, one whose remaining work is already pending merges into it.
    Returns how many rows named them."""
    gone = {int(u) for u in user_ids}
    changed = 0
    rows = PendingWork.objects.select_for_update().filter(tenant_id=tenant_id, task__in=USER_ID_TASKS)
    for work in rows:
        users = work.args[1] if len(work.args) > 1 and isinstance(work.args[1], list) else []
        if not gone & set(users):
            continue
        changed += 1
        kept = [u for u in users if u not in gone]
        args = [work.args[0], kept, *work.args[2:]]
        key = work_key(work.task, args)
        if not kept or PendingWork.objects.filter(key=key).exclude(pk=work.pk).exists():
            work.delete()
        else:
            PendingWork.objects.filter(pk=work.pk).update(args=args, key=key)
    return changed


def reference(request: Any) -> PendingRef | None:
    """The outbox row a task message does, from its headers; None for other messages."""
    value = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if not value:
        return None
    pk, generation = value
    return PendingRef(int(pk), int(generation))


def is_pending(ref: PendingRef) -> bool:
    """False once the work is done (row gone), asked for again (a newer generation, whose own
    message does it) or given up: a message for it has nothing left to do."""
    return PendingWork.objects.filter(pk=ref.pk, generation=ref.generation, given_up_at__isnull=True).exists()


def work_done(ref: PendingRef) -> None:
    """Remove the row, unless the work was asked for again since this generation was sent."""
    PendingWork.objects.filter(pk=ref.pk, generation=ref.generation).delete()


def pending_alike(
    task: Any, tenant_id: int, *, max_ids: int, exclude: PendingRef | None = None
) -> list[tuple[PendingRef, list[int]]]:
    """The tenant's other pending work for ``task`` (arguments ``(tenant_id, ids)``), oldest
    first, as long as their ids add up to at most ``max_ids``: work a running task can do along
    with its own (then ``work_done`` on each), so a burst of events costs one refresh of each
    user, not one per event batch.

    Safe without locks: a row asked for again meanwhile has a newer generation, which
    ``work_done`` leaves in place, and two tasks doing the same idempotent work cost time only.
    """
    if max_ids <= 0:
        return []
    rows = PendingWork.objects.filter(tenant_id=tenant_id, task=task.name, given_up_at__isnull=True)
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    rows = rows.order_by("pk").values_list("pk", "generation", "args")[:COALESCE_MAX_ROWS]
    joined: list[tuple[PendingRef, list[int]]] = []
    total = 0
    for pk, generation, args in rows:
        args = _json(args)
        ids = args[1] if isinstance(args, list) and len(args) == 2 and isinstance(args[1], list) else None
        if ids is None or total + len(ids) > max_ids:
            continue  # not (tenant, ids) work, or too big to join: its own message does it
        joined.append((PendingRef(pk, generation), [int(i) for i in ids]))
        total += len(ids)
    return joined


def give_up(ref: PendingRef, reason: str) -> None:
    PendingWork.objects.filter(pk=ref.pk, generation=ref.generation).update(
        given_up_at=timezone.now(), last_error=reason[:10_000]
    )
