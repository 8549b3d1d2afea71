"""Training runs: create, execute (train, re-embed, evaluate, promote) and record them.

Usage::

    from llmrec_django.learning.training import runs

    run = runs.create_run(tenant, "encoder", {"epochs": 1})   # a queued TrainingRun
    runs.execute_run(run.pk)                                   # the whole run, in this process
    # or: runs.enqueue_run(tenant, "encoder") for a GPU worker (through the outbox)

``execute_run`` is idempotent: a finished run (succeeded or failed) is left alone, so a task
redelivered after a worker crash (``acks_late``) redoes only unfinished work. Any exception
marks the run failed with the error on its record, and nothing is switched on.

Encoder runs end with the catalogue re-embedded by the new weights into a new embedding
version (not activated), then the promotion decision (``training.promotion``). Re-ranker runs
go straight to the decision. Under ``torchrun`` every rank calls ``train_on_ranks``; rank 0 alone
writes records, checkpoints and the version.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery import signature
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from llmrec_django import queues
from llmrec_django.catalogue import embedding
from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.backends import get_encoder
from llmrec_django.database import artifacts, outbox, vectorstore
from llmrec_django.learning.training import config as training_config
from llmrec_django.learning.training import data as training_data
from llmrec_django.learning.training import promotion, trainers
from llmrec_django.ml.encoders import resolve_model_path
from llmrec_django.ml.training.loop import DistributedInfo, EpochRecord, init_distributed
from llmrec_django.models import EmbeddingVersion, Interaction, Tenant, TrainingRun

logger = logging.getLogger(__name__)

FINISHED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)


def create_run(tenant: Tenant, kind: str, overrides: dict[str, Any] | None = None) -> TrainingRun:
    params = training_config.run_params(kind, overrides)
    return TrainingRun.objects.create(tenant=tenant, kind=kind, params=params, stage="queued")


def enqueue_run(tenant: Tenant, kind: str, overrides: dict[str, Any] | None = None) -> TrainingRun:
    """Create a run and send it to the training queue (``LLMREC["QUEUES"]["train"]``) through
    the outbox: with the broker down the run waits, queued, until ``drain_outbox`` sends it. The
    task records its id on the run when it starts."""
    with transaction.atomic():
        run = create_run(tenant, kind, overrides)
        outbox.enqueue(tenant.pk, queues.TRAIN_MODEL, [(run.pk,)])
    run.refresh_from_db()
    return run


def artifact_dir(run: TrainingRun) -> Path:
    """The run's model folder; its name (``encoder-12``) becomes the embedding version's model name."""
    return training_config.artifacts_root() / run.tenant.slug / f"{run.kind}-{run.pk}"


def base_model_path(kind: str, tenant: Tenant, params: dict[str, Any]) -> str:
    """Where training starts from: the active version's encoder (else the configured one); a
    re-ranker may name its own ``base_path``."""
    if kind == "reranker" and params.get("base_path"):
        return str(resolve_model_path(params["base_path"]))
    version = vectorstore.active_version(tenant)
    if version is not None and version.model_path:
        try:
            path = embedding.model_directory(version)
        except FileNotFoundError:
            path = None
        if path is not None and (path / "config.json").is_file():
            return str(path)
    return get_encoder().model_path


def _update(run: TrainingRun, **fields: Any) -> None:
    for key, value in fields.items():
        setattr(run, key, value)
    TrainingRun.objects.filter(pk=run.pk).update(**fields)


def fail(run_id: int, error: str) -> None:
    now = timezone.now()
    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    duration = (now - run.started_at).total_seconds() if run.started_at else None
    TrainingRun.objects.filter(pk=run_id).exclude(status=TrainingRun.Status.SUCCEEDED).update(
        status=TrainingRun.Status.FAILED,
        error=error[:20_000],
        finished_at=now,
        duration_seconds=duration,
        stage="failed",
    )


HEARTBEAT_SECONDS = 30.0


@contextlib.contextmanager
def heartbeat(run_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """While the block runs, a thread writes ``heartbeat_at`` every ``every`` seconds: a run whose
    process died stops beating, and ``reap_stalled_runs`` marks it failed (a run otherwise says
    "running" forever)."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while True:
                TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
                if stop.wait(every):
                    return
        except Exception:  # noqa: BLE001 - a missed beat is not worth failing the run for
            logger.warning("The heartbeat of training run %s stopped.", run_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"llmrec-run-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def reap_stalled_runs(now: datetime | None = None) -> list[int]:
    """Mark failed the running runs whose process stopped beating for
    ``TRAINING["HEARTBEAT_TIMEOUT_SECONDS"]`` (a killed worker, a lost machine), saying so; an
    encoder run re-embedding on the workers is left to its build (which has its own recovery)."""
    now = now or timezone.now()
    limit = now - timedelta(seconds=float(llmrec_settings.TRAINING["HEARTBEAT_TIMEOUT_SECONDS"]))
    stalled = (
        TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
        .filter(Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit))
        .exclude(embedding_version__status=EmbeddingVersion.Status.BUILDING)
    )
    reaped = []
    for run in stalled:
        last = run.heartbeat_at or run.started_at
        fail(
            run.pk,
            f"The process running it stopped reporting at {last:%Y-%m-%d %H:%M:%S} UTC (a stopped or lost worker); "
            f"it made {round(100 * run.progress)}% of its training steps. Start a new run.",
        )
        reaped.append(run.pk)
    if reaped:
        logger.warning("Marked stalled training runs %s as failed.", reaped)
    return reaped


def execute_run(
    run_id: int, *, task_id: str = "", embed_on_workers: bool = False, auto_promote: bool | None = None
) -> TrainingRun | None:
    """The whole run in this process (rank 0 under torchrun); see the module docstring."""
    run = TrainingRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is None:
        logger.info("Training run %s is gone; nothing to do.", run_id)
        return None
    if run.status in FINISHED:
        logger.info("Training run %s is already %s; not running it again.", run_id, run.status)
        return run
    now = timezone.now()
    fields = dict(
        status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now, error="", progress=0.0, epochs=[]
    )
    _update(run, **fields, **({"task_id": task_id} if task_id else {}))
    try:
        with heartbeat(run.pk):
            train_on_ranks(run.tenant, run.kind, run.params, run=run)
            if run.kind == TrainingRun.Kind.ENCODER:
                if embed_on_workers:
                    start_reembedding_on_workers(run)
                    return run  # the chord's last task evaluates and finishes the run
                reembed_in_process(run)
            return finish_run(run.pk, auto_promote=auto_promote)
    except Exception as exc:
        logger.exception("Training run %s failed.", run.pk)
        fail(run.pk, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}")
        raise


def train_on_ranks(
    tenant: Tenant,
    kind: str,
    params: dict[str, Any],
    *,
    run: TrainingRun | None = None,
    dist_info: DistributedInfo | None = None,
    output: Path | None = None,
) -> dict[str, Any]:
    """Build the examples and train; every data-parallel rank calls this, rank 0 with ``run``."""
    dist_info = dist_info or init_distributed(params.get("device", "auto"))
    base = base_model_path(kind, tenant, params)
    is_main = dist_info.is_main and run is not None
    if is_main:
        output = artifact_dir(run)
        _update(run, stage="building examples", base_model_path=base, artifact_path=str(output))
    builder = training_data.encoder_examples if kind == "encoder" else training_data.reranker_examples
    examples = builder(tenant, params)
    if len(examples.train) < 2:
        raise ValueError(f"Only {len(examples.train)} training examples for the {kind}: not enough interactions.")
    if not examples.valid:
        raise ValueError(f"No validation examples for the {kind}: no user has a held-out interaction.")
    if is_main:
        _update(run, stage="training", data_window=examples.window, world_size=dist_info.world_size)

    def on_epoch(record: EpochRecord) -> None:
        if is_main:
            TrainingRun.objects.filter(pk=run.pk).update(epochs=[*run.epochs, record.to_dict()])
            run.epochs = [*run.epochs, record.to_dict()]

    def on_progress(fraction: float) -> None:
        if is_main:
            _update(run, progress=round(fraction, 4))

    trainer = trainers.train_encoder if kind == "encoder" else trainers.train_reranker
    result = trainer(
        base, examples, params, output=output, dist_info=dist_info, on_epoch=on_epoch, on_progress=on_progress
    )
    if is_main:
        window = examples.window
        if "cache" in result:  # trainable="projection": the texts through the frozen transformer, once
            cache = result["cache"]
            window = {
                **window,
                "cached_texts": cache["texts"],
                "cache_reused": cache["reused"],
                "cache_seconds": cache["seconds"],
            }
        _update(
            run,
            device=f"{result['device']} ({result['precision']})",
            progress=1.0,
            stage="trained",
            data_window=window,
            # Every machine (web hosts, embedding workers) loads it by this name (``artifacts``).
            artifact_path=artifacts.publish(output),
        )
    return result


def reembed_in_process(run: TrainingRun) -> EmbeddingVersion:
    from django.db import connection

    _update(run, stage="re-embedding the catalogue")
    version = embedding.build_version_in_process(
        run.tenant, run.artifact_path, activate=False, concurrently=not connection.in_atomic_block
    )
    _update(run, embedding_version=version)
    return version


def start_reembedding_on_workers(run: TrainingRun) -> EmbeddingVersion:
    _update(run, stage="re-embedding the catalogue on the workers")
    version = embedding.start_build(
        run.tenant,
        run.artifact_path,
        activate=False,
        then=signature(queues.TRAIN_FINISH_RUN, args=(run.pk,), immutable=True),
        on_error_run=run.pk,
    )
    _update(run, embedding_version=version)
    return version


def finish_run(run_id: int, *, auto_promote: bool | None = None) -> TrainingRun:
    """Offline evaluation against the active model and the promotion decision; the run succeeds."""
    run = TrainingRun.objects.select_related("tenant", "embedding_version").get(pk=run_id)
    if run.kind == TrainingRun.Kind.ENCODER:
        version = run.embedding_version
        if version is None or version.status not in (EmbeddingVersion.Status.READY, EmbeddingVersion.Status.ACTIVE):
            state = "missing" if version is None else f"{version.status}: {version.error}"
            raise RuntimeError(f"The re-embedded version is not ready ({state}).")
    _update(run, stage="evaluating")
    promotion.evaluate(run)
    if run.kind == TrainingRun.Kind.ENCODER and promotion.beats_active(run):
        # The evaluation fitted a blend on the new vectors; the service gets its own before the
        # version can be switched on (by the decision or by the admin), so what serves is what
        # the evaluation measured.
        _update(run, stage=promotion.CANDIDATE_BLEND_STAGE)
        promotion.fit_candidate_blend(run)
    promotion.decide(run, auto_promote=auto_promote)
    now = timezone.now()
    _update(
        run,
        status=TrainingRun.Status.SUCCEEDED,
        stage="done",
        finished_at=now,
        duration_seconds=round((now - run.started_at).total_seconds(), 3) if run.started_at else None,
    )
    return run


def finish_run_safely(run_id: int) -> TrainingRun | None:
    try:
        return finish_run(run_id)
    except Exception as exc:
        fail(run_id, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}")
        raise


# ---------------------------------------------------------------------------------------------
# Scheduled retraining


def new_interactions_since_last_run(tenant: Tenant, kind: str) -> int:
    """Interactions stored after the data window of the tenant's last successful ``kind`` run."""
    last = (
        TrainingRun.objects.for_tenant(tenant)
        .filter(kind=kind, status=TrainingRun.Status.SUCCEEDED)
        .order_by("-finished_at")
        .first()
    )
    events = Interaction.objects.for_tenant(tenant)
    last_id = (last.data_window or {}).get("last_interaction_id") if last else None
    return events.filter(pk__gt=last_id).count() if last_id is not None else events.count()


def retraining_due(tenant: Tenant, kind: str) -> bool:
    """Whether ``kind`` should be retrained now (no run under way; enough new interactions).
    Runs whose process died are reaped first, so a dead run never blocks retraining."""
    reap_stalled_runs()
    busy = TrainingRun.objects.for_tenant(tenant).filter(
        kind=kind, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
    )
    if busy.exists():
        return False
    threshold = int(llmrec_settings.TRAINING["MIN_NEW_INTERACTIONS"])
    return new_interactions_since_last_run(tenant, kind) >= threshold
