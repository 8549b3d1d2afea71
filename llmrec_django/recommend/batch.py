"""Batch recommendations: the top-k of every active user (or a segment), computed in chunks on
the Celery workers, kept as ``BatchList`` rows and written to JSONL and CSV files in Django
storage.

Usage (``python manage.py llmrec_batch`` does this)::

    from llmrec_django.recommend import batch

    run = batch.start_run(tenant, k=10, active_days=30)       # fans the chunks out, returns at once
    run = batch.start_run(tenant, users=["user-1", "user-2"], sync=True)   # in this process
    run = batch.resume_run(run.pk)                            # only the users still missing
    batch.latest_list(profile)                                # the user's newest BatchList, or None

A run stores the ids of the users it selected, so it can be resumed after a crash: a chunk
writes its users' lists with ``ON CONFLICT DO NOTHING`` on (run, user) and skips the users that
already have one, so a redelivered chunk or a resumed run computes only what is missing. Each
list is logged as served (surface "for_you", ``{"batch_run": id}`` in its context): its
``served_list_id`` is the recommendation id that tracked links carry, so attribution credits
clicks on them. When every chunk is done, ``finish_run`` writes
``<FOLDER>/<tenant>/run-<id>.jsonl`` and ``.csv`` to the storage ``LLMREC["BATCH"]["STORAGE"]``
(an alias of ``STORAGES``; None: the default storage) and marks the run done.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from celery import chord, signature
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from llmrec_django import queues
from llmrec_django.conf import llmrec_settings
from llmrec_django.models import BatchList, BatchRun, Interaction, Tenant, UserProfile
from llmrec_django.recommend import digest, served_log
from llmrec_django.recommend.for_user import recommend_for_user

logger = logging.getLogger(__name__)

MAX_ACTIVE_DAYS = 3650
MAX_SEGMENT_USERS = 10_000_000


# ---------------------------------------------------------------------------------------------
# Who


def active_user_ids(tenant: Tenant, days: int) -> list[int]:
    """The tenant's users with an interaction in the last ``days`` days, by id."""
    days = _bounded("active_days", days, 1, MAX_ACTIVE_DAYS)
    since = timezone.now() - timedelta(days=days)
    return sorted(
        Interaction.objects.filter(tenant=tenant, timestamp__gte=since).values_list("user_id", flat=True).distinct()
    )


def segment_user_ids(tenant: Tenant, external_ids: Iterable[str]) -> list[int]:
    """The profile ids of these external ids (a segment); ``ValueError`` naming the unknown ones."""
    wanted = list(dict.fromkeys(str(e).strip() for e in external_ids if str(e).strip()))
    if not wanted:
        raise ValueError("The segment names no users.")
    if len(wanted) > MAX_SEGMENT_USERS:
        raise ValueError(f"The segment names {len(wanted)} users; at most {MAX_SEGMENT_USERS} in one run.")
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 10_000):
        part = wanted[start : start + 10_000]
        found.update(UserProfile.objects.filter(tenant=tenant, external_id__in=part).values_list("external_id", "pk"))
    unknown = [e for e in wanted if e not in found]
    if unknown:
        shown = ", ".join(repr(e) for e in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ValueError(f"{len(unknown)} of the segment's users are not in tenant {tenant.slug!r}: {shown}")
    return sorted(set(found.values()))


def _bounded(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}.")
    return value


# ---------------------------------------------------------------------------------------------
# A run


def start_run(
    tenant: Tenant,
    *,
    k: int | None = None,
    active_days: int | None = None,
    users: Sequence[str] | None = None,
    sync: bool = False,
    email: bool = False,
) -> BatchRun:
    """Select the users (``users``: external ids, else those active in the last ``active_days``
    days), create the run and compute it: on the workers (returns at once) or, with ``sync``, here.
    ``email``: send each user the digest of their list when the run is done (``recommend.digest``)."""
    config = llmrec_settings.BATCH
    k = _bounded("k", int(config["K"]) if k is None else k, 1, int(llmrec_settings.MAX_K))
    if users is not None:
        user_ids = segment_user_ids(tenant, users)
        segment: dict[str, Any] = {"users": len(user_ids)}
    else:
        days = int(config["ACTIVE_DAYS"]) if active_days is None else active_days
        user_ids = active_user_ids(tenant, days)
        segment = {"active_days": days}
    if email:
        digest.site_url()  # refused before any work when the links could lead nowhere
    run = BatchRun.objects.create(
        tenant=tenant, k=k, segment=segment, users_total=len(user_ids), user_ids=user_ids, send_digest=email
    )
    logger.info("Batch run %s of tenant %s: %d users, k=%d.", run.pk, tenant.slug, len(user_ids), k)
    return _compute(run, user_ids, sync=sync)


def resume_run(run_id: int, *, sync: bool = False) -> BatchRun:
    """Continue an interrupted (or failed) run: only its users without a list are computed."""
    run = BatchRun.objects.get(pk=run_id)
    if run.status == BatchRun.Status.DONE:
        raise ValueError(f"Batch run {run_id} is done; start a new one.")
    done = set(BatchList.objects.filter(run=run).values_list("user_id", flat=True))
    missing = [u for u in run.user_ids if u not in done]
    BatchRun.objects.filter(pk=run.pk).update(status=BatchRun.Status.RUNNING, error="", finished_at=None)
    run.refresh_from_db()
    logger.info("Resuming batch run %s: %d of %d users missing.", run.pk, len(missing), run.users_total)
    return _compute(run, missing, sync=sync)


def _chunks(user_ids: Sequence[int]) -> Iterator[list[int]]:
    size = int(llmrec_settings.BATCH["CHUNK_SIZE"])
    for start in range(0, len(user_ids), size):
        yield list(user_ids[start : start + size])


def _compute(run: BatchRun, user_ids: Sequence[int], *, sync: bool) -> BatchRun:
    if sync:
        try:
            for chunk in _chunks(user_ids):
                compute_chunk(run.pk, chunk)
            return finish_run(run.pk)
        except Exception as exc:
            mark_failed(run.pk, f"{type(exc).__name__}: {exc}")
            raise
    chunks = [signature(queues.BATCH_CHUNK, args=(run.pk, chunk), immutable=True) for chunk in _chunks(user_ids)]
    finish = signature(queues.BATCH_FINISH, args=(run.pk,), immutable=True)
    finish = finish.on_error(signature(queues.BATCH_FAILED, kwargs={"run_id": run.pk}))
    # Sent once the run's row is committed (a worker must find it).
    if chunks:
        transaction.on_commit(lambda: chord(chunks)(finish))
    else:
        transaction.on_commit(finish.apply_async)
    return run


def compute_chunk(run_id: int, user_ids: Sequence[int]) -> int:
    """Compute and keep the lists of these users of the run that have none yet; returns the lists
    written. The lists computed before an error are kept (a resumed run skips them)."""
    run = BatchRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is None or run.status == BatchRun.Status.DONE:
        return 0
    done = set(BatchList.objects.filter(run=run, user_id__in=user_ids).values_list("user_id", flat=True))
    profiles = UserProfile.objects.filter(tenant=run.tenant, pk__in=[u for u in user_ids if u not in done])
    rows: list[BatchList] = []
    try:
        for profile in profiles.order_by("pk"):  # a user erased since the run started: skipped
            result = recommend_for_user(profile, tenant=run.tenant, k=run.k, exclude_consumed=True)
            list_id = served_log.served(
                result, tenant_id=run.tenant_id, user_id=profile.pk, surface="for_you", context={"batch_run": run.pk}
            )
            rows.append(
                BatchList(
                    run=run,
                    user=profile,
                    source=result.source[:32],
                    served_list_id=list_id,
                    items=[
                        {"item": r.external_id, "score": round(float(r.score), 6), "explanation": r.explanation}
                        for r in result.items
                    ],
                )
            )
    finally:
        _keep(run, rows)
    return len(rows)


def _keep(run: BatchRun, rows: list[BatchList]) -> None:
    if rows:
        served_log.flush()  # the lists' served rows, before links to them can go out
        BatchList.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    counted = BatchList.objects.filter(run=OuterRef("pk")).values("run").annotate(n=Count("pk")).values("n")
    BatchRun.objects.filter(pk=run.pk).update(users_done=Subquery(counted))


def finish_run(run_id: int) -> BatchRun:
    """Write the run's files to storage and mark it done (again after a redelivery: same names)."""
    run = BatchRun.objects.select_related("tenant").get(pk=run_id)
    if run.status == BatchRun.Status.DONE:
        return _send_digest(run)  # a redelivered finish: the digest may not have gone out
    storage = batch_storage()
    base = f"{str(llmrec_settings.BATCH['FOLDER']).strip('/')}/{run.tenant.slug}/run-{run.pk}"
    jsonl_name = _save(storage, f"{base}.jsonl", _jsonl_lines(run))
    csv_name = _save(storage, f"{base}.csv", _csv_lines(run))
    done = BatchList.objects.filter(run=run).count()
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.DONE, users_done=done, jsonl_file=jsonl_name, csv_file=csv_name,
        finished_at=timezone.now(), error="",
    )  # fmt: skip
    run.refresh_from_db()
    logger.info("Batch run %s done: %d lists, files %s and %s.", run.pk, done, jsonl_name, csv_name)
    return _send_digest(run)


def _send_digest(run: BatchRun) -> BatchRun:
    """The run's digest, once (a crash while sending may send some messages again on retry)."""
    if run.send_digest and run.digests_sent is None:
        run.digests_sent = digest.send_run(run)
        BatchRun.objects.filter(pk=run.pk).update(digests_sent=run.digests_sent)
    return run


def mark_failed(run_id: int, error: str) -> None:
    BatchRun.objects.filter(pk=run_id).exclude(status=BatchRun.Status.DONE).update(
        status=BatchRun.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def batch_storage() -> Storage:
    """``BATCH["STORAGE"]``, else the default storage; but for a default file storage without
    ``MEDIA_ROOT`` (which would write into the process's working directory): ``LLMREC_HOME``."""
    alias = llmrec_settings.BATCH["STORAGE"]
    if alias:
        return storages[alias]
    default = storages["default"]
    if isinstance(default, FileSystemStorage) and not settings.MEDIA_ROOT:
        return FileSystemStorage(location=str(llmrec_settings.home))
    return default


def _rows(run: BatchRun) -> Iterator[tuple[str, BatchList]]:
    lists = BatchList.objects.filter(run=run).select_related("user").order_by("user_id")
    for row in lists.iterator(chunk_size=2000):
        yield row.user.external_id, row


def _jsonl_lines(run: BatchRun) -> Iterator[str]:
    for user, row in _rows(run):
        record = {"user": user, "recommendation_id": str(row.served_list_id or ""), "source": row.source}
        yield json.dumps({**record, "items": row.items}, ensure_ascii=False) + "\n"


CSV_HEADER = ("user", "rank", "item", "score", "explanation", "recommendation_id")


def _csv_lines(run: BatchRun) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for user, row in _rows(run):
        for rank, item in enumerate(row.items, start=1):
            writer.writerow((user, rank, item["item"], item["score"], item["explanation"], row.served_list_id or ""))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _save(storage: Storage, name: str, lines: Iterable[str]) -> str:
    """Spool ``lines`` to disk and save them as ``name`` (replacing a file a crashed finish left)."""
    with tempfile.TemporaryFile() as spool:
        for line in lines:
            spool.write(line.encode("utf-8"))
        spool.seek(0)
        if storage.exists(name):
            storage.delete(name)
        return storage.save(name, File(spool, name=name))


# ---------------------------------------------------------------------------------------------
# Serving


def latest_list(profile: UserProfile) -> BatchList | None:
    """The user's newest batch list (of any run: each list is whole once written), or None."""
    return BatchList.objects.filter(user=profile).select_related("run").order_by("-created_at", "-pk").first()
