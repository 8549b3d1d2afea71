"""Celery tasks: thin wrappers that take ids and call the services.

Routing: ``llmrec_django.queues.route_task`` sends ``embed_*``/``build_*`` tasks to the
embedding queue and ``train_*`` to the training (GPU) queue. All tasks are idempotent, so they
are acknowledged late and may be redelivered after a worker crash; ``reliable_task``
(``llmrec_django.database.deliveries``) gives a message up after ``TASK_MAX_DELIVERIES`` deliveries and
marks its record failed through the task's ``give_up_hook``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction

from llmrec_django.catalogue import collaborative, embedding
from llmrec_django.catalogue.embedding import start_build  # noqa: F401  (the tasks' public API, as before)
from llmrec_django.conf import llmrec_settings
from llmrec_django.copywriting import service as copy_service
from llmrec_django.database import outbox
from llmrec_django.database.deliveries import forget_stale, reliable_task
from llmrec_django.learning import loop
from llmrec_django.learning.attribution import attribute
from llmrec_django.learning.blend import NotEnoughData, fit_ranking_model
from llmrec_django.learning.evaluation import SCRATCH_SUFFIX
from llmrec_django.learning.evaluation_reports import mark_failed, run_saved_evaluation
from llmrec_django.learning.training import runs
from llmrec_django.models import Tenant, TrainingRun, UserProfile
from llmrec_django.recommend import batch

logger = logging.getLogger(__name__)


@task_prerun.connect
@task_postrun.connect
def _connections_as_in_requests(sender=None, **kwargs) -> None:
    """A worker's database connection follows the rules of a web request's: kept for
    ``CONN_MAX_AGE``, health-checked before its first query (``CONN_HEALTH_CHECKS``), dropped after
    an error, checked at each task's start and end. Celery would otherwise open a new one for every
    task (a tenth of a user-vector refresh's time under load); ``queues.celery_settings`` sets
    ``CELERY_DB_REUSE_MAX`` so that it leaves them be. Not for a task run eagerly (in the caller's
    process and maybe inside its transaction)."""
    if getattr(getattr(sender, "request", None), "is_eager", False) or connection.in_atomic_block:
        return
    close_old_connections()


# A chunk fails on transient trouble (database restart, OOM-killed child) more often than for
# good; retry a few times with backoff, then give up and fail the build.
CHUNK_MAX_RETRIES = 3


def _chunk_given_up(version_id: int, first_id: int, last_id: int, *, reason: str) -> None:
    embedding.mark_failed(version_id, f"chunk {first_id}-{last_id}: {reason}")


def _finish_given_up(results: list | None, version_id: int, activate: bool = True, *, reason: str) -> None:
    embedding.mark_failed(version_id, f"finishing: {reason}")


def _run_given_up(run_id: int, *, reason: str) -> None:
    runs.fail(run_id, reason)


def _evaluation_given_up(report_id: int, *, reason: str) -> None:
    mark_failed(report_id, reason)


@reliable_task(bind=True, max_retries=CHUNK_MAX_RETRIES, retry_backoff=True, give_up_hook=_chunk_given_up)
def embed_item_range(self, version_id: int, first_id: int, last_id: int) -> int:
    try:
        return embedding.embed_item_range(version_id, first_id, last_id)
    except Exception as exc:
        if self.request.retries >= CHUNK_MAX_RETRIES:
            embedding.mark_failed(version_id, f"chunk {first_id}-{last_id}: {type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc) from exc


@reliable_task(give_up_hook=_finish_given_up)
def build_finish(results: list | None, version_id: int, activate: bool = True) -> int | None:
    try:
        version = embedding.finish_build(version_id, activate=activate)
    except Exception as exc:
        embedding.mark_failed(version_id, f"finishing: {type(exc).__name__}: {exc}")
        raise
    return version.pk if version else None


@shared_task
def build_failed(request, exc, traceback, version_id: int) -> None:
    """Error callback of a build's chord: the version is marked failed, the active one untouched."""
    embedding.mark_failed(version_id, f"{type(exc).__name__}: {exc}")


@reliable_task()
def embed_changed_items(tenant_id: int, item_ids: list[int]) -> int:
    return embedding.refresh_items(tenant_id, item_ids)


@reliable_task()
def refresh_user_vectors(tenant_id: int, user_ids: list[int]) -> int:
    """Recompute these users' interest vectors, and those of the tenant's other pending refreshes
    (up to ``REFRESH_COALESCE_USERS`` users in all): under a stream of events the work queued
    behind this message is mostly done by it, so each queued message that follows finds its
    work done and is skipped, and a user with many events is refreshed once per pass. A
    redelivered message does only its own users, so work that crashes a worker cannot take the
    tenant's other refreshes down with it more than once."""
    request = refresh_user_vectors.request
    redelivered = getattr(request, "llmrec_deliveries", 1) > 1  # maybe the work crashed a worker
    room = 0 if redelivered else max(0, int(llmrec_settings.REFRESH_COALESCE_USERS) - len(user_ids))
    joined = outbox.pending_alike(refresh_user_vectors, tenant_id, max_ids=room, exclude=outbox.reference(request))
    if joined:
        logger.debug("Refreshing %d pending refreshes of tenant %s along with this one.", len(joined), tenant_id)
    users = sorted(set(user_ids).union(*(ids for _, ids in joined)))
    refreshed = embedding.refresh_users(tenant_id, users)
    for ref, _ in joined:
        outbox.work_done(ref)
    if llmrec_settings.COPY["PRECOMPUTE_ON_REFRESH"] and users:
        outbox.enqueue(tenant_id, generate_copy, [(tenant_id, users)])
    return refreshed


@reliable_task()
def generate_copy(tenant_id: int, user_ids: list[int], k: int | None = None) -> int:
    """Write and cache recommendation copy for these users' current lists (ahead of their visit)."""
    if not Tenant.objects.filter(pk=tenant_id).exists():
        logger.info("Tenant %s is gone; no copy to write.", tenant_id)
        return 0
    return copy_service.precompute_copy(tenant_id, user_ids, k=k)


@reliable_task()
def write_list_copy(tenant_id: int, user_id: int, items: list[list]) -> bool:
    """Write copy for the list a page just showed without it (the generator ran past the page's
    budget), so its next view has it; True when the generator's text (not the template) was cached."""
    if not Tenant.objects.filter(pk=tenant_id).exists():
        return False
    try:
        copy = copy_service.write_list_copy_ahead(tenant_id, user_id, [tuple(pair) for pair in items])
    except UserProfile.DoesNotExist:
        logger.info("User %s of tenant %s is gone; no copy to write.", user_id, tenant_id)
        return False
    return not copy.fell_back


def queue_list_copy(tenant_id: int, user_id: int, result: object, copy: copy_service.Copy) -> bool:
    """After a page fell back to the template because the generator ran out of time: queue the
    copy for that list once (per user and list, for the ahead-of-time budget), when
    ``COPY["WRITE_AHEAD_ON_MISS"]`` is on. Returns whether it queued."""
    config = llmrec_settings.COPY
    if not (config["WRITE_AHEAD_ON_MISS"] and copy.fell_back and copy.timed_out):
        return False
    items = [[r.item_id, r.explanation] for r in list(getattr(result, "items", result))[: int(config["MAX_ITEMS"])]]
    marker = "llmrec:copy-ahead:" + copy_service.list_fingerprint(tenant_id, user_id, items)
    if not cache.add(marker, 1, timeout=float(config["AHEAD_OF_TIME_BUDGET_SECONDS"]) * 2):
        return False  # already on its way
    write_list_copy.delay(tenant_id, user_id, items)
    return True


@reliable_task()
def train_ranking(tenant_id: int) -> dict | None:
    """Refit the tenant's collaborative model, then its blend weights (``llmrec_fit``)."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        logger.info("Tenant %s is gone; nothing to fit.", tenant_id)
        return None
    cf = collaborative.fit_collaborative_model(tenant)
    try:
        blend = fit_ranking_model(tenant)
    except NotEnoughData as exc:
        logger.info("Tenant %s: no blend fitted (%s).", tenant.slug, exc)
        blend = None
    return {"collaborative_model": cf.pk if cf else None, "ranking_model": blend.pk if blend else None}


@shared_task(ignore_result=True)
def refit_ranking_models() -> list[int]:
    """Beat's entry of the learning loop (hourly by default): queue ``train_ranking`` for each
    tenant with ``LEARNING_LOOP["REFIT_MIN_NEW_INTERACTIONS"]`` new interactions since its
    latest blend and no refit already queued. Returns the tenants queued."""
    queued = []
    for tenant in loop.tenants_due_for_refit():
        with transaction.atomic():
            loop.queue_refit(tenant)
        queued.append(tenant.pk)
    return queued


@reliable_task(give_up_hook=_evaluation_given_up)
def run_evaluation(report_id: int) -> str | None:
    """Run a queued offline evaluation (``evaluation_reports.start_evaluation``) and store it."""
    record = run_saved_evaluation(report_id)
    return record.status if record else None


@reliable_task()
def attribute_events(tenant_id: int | None = None) -> int:
    """Credit new engagement events to the served lists that showed their items (one pass;
    beat runs it every minute). Returns the events attributed."""
    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id is not None else None
    if tenant_id is not None and tenant is None:
        return 0
    return sum(done.attributed for done in attribute(tenant))


# ---------------------------------------------------------------------------------------------
# Fine-tuning (llmrec_django.learning.training). A GPU worker consumes QUEUES["train"] ("llmrec.gpu"):
#   celery -A example_site worker -Q llmrec.gpu --pool threads --concurrency 1


@reliable_task(bind=True, give_up_hook=_run_given_up)
def train_model(self, run_id: int) -> dict | None:
    """Train, re-embed (fanned out to the embedding workers), evaluate and maybe promote a run.

    Idempotent: a run that already finished is left alone (a redelivered task does nothing).
    """
    run = runs.execute_run(
        run_id,
        task_id=self.request.id or "",
        embed_on_workers=bool(llmrec_settings.TRAINING["EMBED_ON_WORKERS"]) and not self.request.is_eager,
    )
    return None if run is None else {"run": run.pk, "status": run.status, "promotion": run.promotion}


@reliable_task(give_up_hook=_run_given_up)
def train_finish_run(run_id: int) -> dict:
    """After the catalogue was re-embedded on the workers: evaluation and promotion decision."""
    run = TrainingRun.objects.get(pk=run_id)
    if run.status in runs.FINISHED:
        return {"run": run.pk, "status": run.status, "promotion": run.promotion}
    run = runs.finish_run_safely(run_id)
    return {"run": run.pk, "status": run.status, "promotion": run.promotion}


@shared_task
def train_build_failed(request, exc, traceback, run_id: int) -> None:
    runs.fail(run_id, f"re-embedding the catalogue failed: {type(exc).__name__}: {exc}")


@shared_task
def schedule_retraining(kinds: list[str] | None = None) -> list[int]:
    """Celery beat's entry (e.g. nightly): queue a run per tenant and model kind that received
    at least ``TRAINING["MIN_NEW_INTERACTIONS"]`` interactions since its last successful run."""
    started = []
    for tenant in Tenant.objects.exclude(slug__endswith=SCRATCH_SUFFIX).order_by("pk"):
        for kind in kinds or ["encoder", "reranker"]:
            if runs.retraining_due(tenant, kind):
                started.append(runs.enqueue_run(tenant, kind).pk)
    return started


@shared_task(ignore_result=True)
def reap_stalled_runs() -> list[int]:
    """Beat's entry (e.g. every 5 minutes): mark failed the training runs whose process died."""
    return runs.reap_stalled_runs()


# ---------------------------------------------------------------------------------------------
# Batch recommendations (llmrec_django.recommend.batch; ``llmrec_batch``)


def _batch_chunk_given_up(run_id: int, user_ids: list[int], *, reason: str) -> None:
    batch.mark_failed(run_id, f"chunk of {len(user_ids)} users: {reason}")


def _batch_finish_given_up(run_id: int, *, reason: str) -> None:
    batch.mark_failed(run_id, f"finishing: {reason}")


@reliable_task(bind=True, max_retries=CHUNK_MAX_RETRIES, retry_backoff=True, give_up_hook=_batch_chunk_given_up)
def batch_chunk(self, run_id: int, user_ids: list[int]) -> int:
    """Compute the lists of these users of a batch run (those without one yet)."""
    try:
        return batch.compute_chunk(run_id, user_ids)
    except Exception as exc:
        if self.request.retries >= CHUNK_MAX_RETRIES:
            raise  # the chord's error callback marks the run failed; --resume continues it
        raise self.retry(exc=exc) from exc


@reliable_task(give_up_hook=_batch_finish_given_up)
def batch_finish(run_id: int) -> int:
    """Write a batch run's files and mark it done."""
    return batch.finish_run(run_id).users_done


@shared_task
def batch_failed(request, exc, traceback, run_id: int) -> None:
    """Error callback of a batch run's chord: the run is marked failed (``--resume`` continues it)."""
    batch.mark_failed(run_id, f"{type(exc).__name__}: {exc}")


@shared_task(ignore_result=True)
def scheduled_batch() -> list[int]:
    """Beat's "batch" entry (off by default): a batch run per tenant, of its active users."""
    started = []
    for tenant in Tenant.objects.exclude(slug__endswith=SCRATCH_SUFFIX).order_by("pk"):
        with transaction.atomic():
            started.append(batch.start_run(tenant).pk)
    return started


# ---------------------------------------------------------------------------------------------
# The outbox (llmrec_django.database.outbox): beat runs this every 10 seconds.


@shared_task(ignore_result=True)
def drain_outbox() -> dict:
    """Send the outbox work a broker outage kept back (or lost), and drop delivery counts of
    messages long gone."""
    report = outbox.drain()
    forget_stale()
    return {"sent": report.sent, "given_up": report.given_up, "unsent": report.unsent}
