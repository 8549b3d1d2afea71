"""The base of the app's late-acknowledged tasks: bounded deliveries, and outbox work marked done.

A task acknowledged late (``acks_late``) is redelivered when its worker dies (OOM killer,
SIGKILL, a crash in a native library), which is what makes a crash lose nothing; but a message
that kills every worker taking it would be redelivered forever. ``ReliableTask`` counts the
deliveries of each message (task id and retry number) in the database, committed before the work
starts. Past ``LLMREC["TASK_MAX_DELIVERIES"]`` the message is given up: an error is logged, the
task's record is marked failed (its ``give_up_hook``, called with the task's arguments and a
``reason``) and the task fails with ``TaskGivenUp`` without running, so a chord stops rather than
go on without the chunk. The count is deleted when the task ends in the process, however it
ends; rows that stay belong to messages whose worker died (``forget_stale`` removes old ones).

Messages sent by the outbox (``llmrec_django.database.outbox``) name their row: the task skips work that
is already done, and deletes the row when it succeeds.

Usage::

    from llmrec_django.database.deliveries import reliable_task

    def _version_failed(version_id, first_id, last_id, *, reason):
        embedding.mark_failed(version_id, reason)

    @reliable_task(give_up_hook=_version_failed)
    def embed_item_range(version_id, first_id, last_id): ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.db import connection
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.database import outbox
from llmrec_django.models import TaskDelivery

logger = logging.getLogger(__name__)

# Counts older than this belong to messages the broker no longer holds (TASK_MAX_DELIVERIES
# redeliveries at Redis's 6 h visibility timeout take 30 h).
STALE_AFTER = timedelta(days=7)


class TaskGivenUp(Exception):
    """The message was delivered more than ``TASK_MAX_DELIVERIES`` times; it is not run again."""


_COUNT = """
INSERT INTO {table} AS d (task_id, retries, task_name, deliveries, first_delivered_at, last_delivered_at)
VALUES (%s, %s, %s, 1, %s, %s)
ON CONFLICT (task_id, retries) DO UPDATE SET
    deliveries = d.deliveries + 1, last_delivered_at = EXCLUDED.last_delivered_at
RETURNING deliveries
"""


def count_delivery(task_id: str, retries: int, task_name: str) -> int:
    """Count one more delivery of this message; returns the deliveries so far, this one included.
    Outside a transaction (as in a worker) the count is committed at once."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_COUNT.format(table=TaskDelivery._meta.db_table), [task_id, retries, task_name, now, now])
        return cursor.fetchone()[0]


def forget_delivery(task_id: str, retries: int) -> None:
    TaskDelivery.objects.filter(task_id=task_id, retries=retries).delete()


def forget_stale() -> int:
    """Delete counts of messages last delivered ``STALE_AFTER`` ago; returns how many."""
    deleted, _ = TaskDelivery.objects.filter(last_delivered_at__lt=timezone.now() - STALE_AFTER).delete()
    return deleted


class ReliableTask(Task):
    """Celery task base: see the module docstring."""

    #: Called as ``give_up_hook(*args, reason=..., **kwargs)`` with the message's arguments when
    #: it is given up, to mark the task's record failed. Set per task through the decorator.
    give_up_hook: Callable[..., None] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if request.called_directly:  # a plain function call: no message, nothing to count
            return super().__call__(*args, **kwargs)
        pending = outbox.reference(request)
        if pending is not None and not outbox.is_pending(pending):
            logger.info("%s[%s]: its outbox work is done already; skipped.", self.name, request.id)
            return None
        retries = int(request.retries or 0)
        deliveries = count_delivery(request.id, retries, self.name)
        request.llmrec_deliveries = deliveries  # for a task that does more on a first delivery only
        try:
            limit = llmrec_settings.TASK_MAX_DELIVERIES
            if limit is not None and deliveries > int(limit):
                self._give_up(args, kwargs, pending, deliveries, int(limit))
            result = self.run(*args, **kwargs)
        finally:
            try:
                forget_delivery(request.id, retries)
            except Exception:  # the database is gone too: keep the task's own outcome
                logger.warning("Could not delete the delivery count of %s[%s].", self.name, request.id, exc_info=True)
        if pending is not None:
            outbox.work_done(pending)
        return result

    def _give_up(
        self, args: tuple, kwargs: dict, pending: outbox.PendingRef | None, deliveries: int, limit: int
    ) -> None:
        reason = (
            f"{self.name} [{self.request.id}] given up: delivered {deliveries} times (TASK_MAX_DELIVERIES "
            f"{limit}); each earlier delivery ended without an outcome, its worker died (out of memory?)."
        )
        logger.error("%s Arguments: %r %r", reason, args, kwargs)
        hook = type(self).give_up_hook  # read on the class: a plain function, not bound to the task
        if hook is not None:
            hook(*args, reason=reason, **kwargs)
        if pending is not None:
            outbox.give_up(pending, reason)
        raise TaskGivenUp(reason)


def reliable_task(**options: Any) -> Callable:
    """``@shared_task`` for the app's idempotent tasks: acknowledged late, deliveries bounded."""
    return shared_task(base=ReliableTask, acks_late=True, **options)
