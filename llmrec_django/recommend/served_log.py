"""Served-list logging: each list the site shows gets an id, and its row is written in batches by
a background thread, so logging costs a request one ``deque.append``.

Usage::

    from llmrec_django.recommend import served_log as log

    list_id = log.served(result, tenant_id=1, user_id=42, surface="for_you", context={...})
    log.flush()            # write what is pending now (tests, management commands, shutdown)

``LLMREC["ONLINE"]["LOG_WRITES"]``: "background" (default), "inline" (written before ``served``
returns: tests, scripts) or "off" (ids only). Rows are written with ``ON CONFLICT DO NOTHING``, so
a batch retried after an error writes each list once. If the database is unreachable, pending
lists wait in memory up to ``LOG_MAX_PENDING``; beyond that the oldest are dropped and counted
(a served list is measurement, not the user's data: losing some is better than growing without
bound). A row whose user was erased meanwhile is dropped, not written.

Values from outside (the request's context, a search query in it) are made storable when the
list is logged (``core.storable``). A batch the database still refuses for its data (not for
being away) is written again row by row, and a row refused on its own is set aside as a
``QuarantinedWrite`` (admin, health endpoint): it never holds up the lists queued behind it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, DataError, IntegrityError, connections, transaction
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.storable import storable_json, storable_text
from llmrec_django.database.quarantine import quarantine
from llmrec_django.models import Experiment, ExperimentArm, ServedList, Tenant, UserProfile

logger = logging.getLogger(__name__)


@dataclass
class ServedEntry:
    """One ``ServedList`` row, waiting to be written."""

    id: uuid.UUID
    tenant_id: int
    user_id: int | None
    surface: str
    source: str
    item_ids: list[int]
    explored: list[int] = field(default_factory=list)
    strategy: str = "default"
    experiment_id: int | None = None
    arm_id: int | None = None
    shadow: bool = False
    version_id: int | None = None
    ranking_model_id: int | None = None
    reranker_run_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    served_at: Any = field(default_factory=timezone.now)


class ServedListWriter:
    """A bounded queue of served lists and the thread that writes them."""

    def __init__(self) -> None:
        self._reset()
        atexit.register(self._flush_at_exit)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: deque[ServedEntry] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0
        self.quarantined = 0

    def _check_fork(self) -> None:
        # A forked worker inherits the queue but not the thread: start over in the child.
        if os.getpid() != self._pid:
            self._reset()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, entry: ServedEntry) -> None:
        options = llmrec_settings.ONLINE
        mode = options["LOG_WRITES"]
        if mode == "off":
            return
        if mode == "inline":
            self._write([entry])
            return
        self._check_fork()
        with self._lock:
            if len(self._pending) >= int(options["LOG_MAX_PENDING"]):
                self._pending.popleft()
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    logger.warning("Served-list log is full; %s lists dropped so far.", self.dropped)
            self._pending.append(entry)
            full = len(self._pending) >= int(options["LOG_BATCH_SIZE"])
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="llmrec-served-log", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write everything pending now, in this thread; returns the rows written."""
        self._check_fork()
        written = 0
        batch_size = int(llmrec_settings.ONLINE["LOG_BATCH_SIZE"])
        while True:
            with self._lock:
                batch = [self._pending.popleft() for _ in range(min(batch_size, len(self._pending)))]
            if not batch:
                return written
            try:
                written += self._write(batch)
            except DatabaseError:
                with self._lock:  # keep them for the next try, oldest first
                    self._pending.extendleft(reversed(batch))
                raise

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=float(llmrec_settings.ONLINE["LOG_FLUSH_SECONDS"]))
            self._wake.clear()
            if not self._pending:
                continue
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the thread must survive a database outage
                logger.exception("Writing served lists failed; %s wait for the next try.", self.pending)
            finally:
                connections.close_all()  # this thread's connection; idle between flushes

    def _flush_at_exit(self) -> None:
        if os.getpid() != self._pid or not self._pending:
            return
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - at exit, a log line is all that can be done
            logger.exception("Could not write %s served lists at exit.", self.pending)

    def _write(self, entries: list[ServedEntry]) -> int:
        try:
            written = _insert([ServedList(**entry.__dict__) for entry in entries])
        except _REFUSED_DATA:
            # Something in the batch the database refuses whatever its state: row by row, each
            # refused row set aside, so one bad value never holds up the others.
            written = sum(self._write_or_quarantine(entry) for entry in entries)
        self.written += written
        return written

    def _write_or_quarantine(self, entry: ServedEntry) -> int:
        try:
            return _insert([ServedList(**entry.__dict__)])
        except _REFUSED_DATA as exc:
            self.quarantined += 1
            logger.error("A served list the database refuses was set aside (%s: %s).", type(exc).__name__, exc)
            quarantine("served_list", exc, tenant_id=entry.tenant_id, user_id=entry.user_id, payload=entry.__dict__)
            return 0


# What the database (or the driver before it) refuses for the data itself: trying again cannot
# help. Connection errors (OperationalError, InterfaceError) mean it is away: the batch waits.
_REFUSED_DATA = (DataError, ValueError, TypeError)


def _insert(rows: list[ServedList]) -> int:
    try:
        with transaction.atomic():
            ServedList.objects.bulk_create(rows, ignore_conflicts=True)
    except IntegrityError:
        # A user erased (or an experiment deleted) between serving and writing: drop the
        # erased users' lists, unlink deleted experiments, write the rest.
        rows = _without_dangling(rows)
        with transaction.atomic():
            ServedList.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _without_dangling(rows: list[Any]) -> list[Any]:
    def existing(model: Any, ids: Iterable[int | None]) -> set[int]:
        wanted = {i for i in ids if i is not None}
        return set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()

    users = existing(UserProfile, (r.user_id for r in rows))
    tenants = existing(Tenant, (r.tenant_id for r in rows))
    experiments = existing(Experiment, (r.experiment_id for r in rows))
    arms = existing(ExperimentArm, (r.arm_id for r in rows))
    kept = []
    for row in rows:
        if row.tenant_id not in tenants or (row.user_id is not None and row.user_id not in users):
            continue
        if row.experiment_id not in experiments:
            row.experiment_id = None
        if row.arm_id not in arms:
            row.arm_id = None
        kept.append(row)
    return kept


writer = ServedListWriter()


def served(
    result: Any,
    *,
    tenant_id: int,
    user_id: int | None,
    surface: str,
    context: Mapping[str, Any] | None = None,
    experiment_id: int | None = None,
    arm_id: int | None = None,
    shadow: bool = False,
) -> str:
    """Log ``result`` (a ``RecommendationList``) as served; sets and returns its ``list_id``."""
    entry = ServedEntry(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        surface=storable_text(surface),
        source=storable_text(result.source),
        item_ids=list(result.item_ids),
        explored=result.explored_positions,
        strategy=storable_text(result.strategy),
        experiment_id=experiment_id,
        arm_id=arm_id,
        shadow=shadow,
        version_id=result.version_id,
        ranking_model_id=result.ranking_model_id,
        reranker_run_id=result.reranker_run_id,
        context=storable_json(dict(context or {})),
    )
    writer.submit(entry)
    result.list_id = str(entry.id)
    return result.list_id


def flush() -> int:
    return writer.flush()
