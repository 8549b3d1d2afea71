"""Celery wiring for sites: queue routing for the app's tasks and broker settings.

A site's Celery app routes llmrec tasks to the queues named in ``LLMREC["QUEUES"]`` with::

    CELERY_TASK_ROUTES = ("llmrec_django.queues.route_task",)

``celery_settings()`` turns one broker URL into the settings the app expects:

- no URL: tasks run eagerly in the calling process (work still completes, no worker needed);
- ``filesystem://``: a broker in folders under ``LLMREC_HOME`` (the demo's worker uses it; no
  server to install);
- anything else (``redis://``, ``amqp://``): that broker; results in Redis when the broker is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The app's task names (``llmrec_django.tasks``). Modules below the tasks module hand these to
# the outbox or to a Celery signature instead of importing the tasks, which import them; they are
# also stored in outbox rows, so a task keeps its name.
_TASKS = "llmrec_django.tasks."
EMBED_ITEM_RANGE = _TASKS + "embed_item_range"
BUILD_FINISH = _TASKS + "build_finish"
BUILD_FAILED = _TASKS + "build_failed"
EMBED_CHANGED_ITEMS = _TASKS + "embed_changed_items"
REFRESH_USER_VECTORS = _TASKS + "refresh_user_vectors"
GENERATE_COPY = _TASKS + "generate_copy"
WRITE_LIST_COPY = _TASKS + "write_list_copy"
TRAIN_RANKING = _TASKS + "train_ranking"
REFIT_RANKING_MODELS = _TASKS + "refit_ranking_models"
RUN_EVALUATION = _TASKS + "run_evaluation"
ATTRIBUTE_EVENTS = _TASKS + "attribute_events"
TRAIN_MODEL = _TASKS + "train_model"
TRAIN_FINISH_RUN = _TASKS + "train_finish_run"
TRAIN_BUILD_FAILED = _TASKS + "train_build_failed"
SCHEDULE_RETRAINING = _TASKS + "schedule_retraining"
DRAIN_OUTBOX = _TASKS + "drain_outbox"
REAP_STALLED_RUNS = _TASKS + "reap_stalled_runs"
BATCH_CHUNK = _TASKS + "batch_chunk"
BATCH_FINISH = _TASKS + "batch_finish"
BATCH_FAILED = _TASKS + "batch_failed"
SCHEDULED_BATCH = _TASKS + "scheduled_batch"

# Task name prefix -> LLMREC["QUEUES"] key.
_QUEUE_BY_TASK_PREFIX = {
    _TASKS + "embed_": "embed",
    _TASKS + "build_": "embed",
    _TASKS + "train_": "train",
}


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict | None:
    if not name.startswith("llmrec_django."):
        return None
    from llmrec_django.conf import llmrec_settings

    queues = llmrec_settings.QUEUES
    for prefix, key in _QUEUE_BY_TASK_PREFIX.items():
        if name.startswith(prefix):
            return {"queue": queues[key]}
    return {"queue": queues["default"]}


def all_queues() -> list[str]:
    from llmrec_django.conf import llmrec_settings

    return list(dict.fromkeys(llmrec_settings.QUEUES.values()))


def celery_settings(broker_url: str | None, home: Path, result_backend: str | None = None) -> dict[str, Any]:
    """Celery settings (upper-case, ``CELERY_`` prefixed) for ``broker_url``."""
    common: dict[str, Any] = {
        "CELERY_TASK_ROUTES": ("llmrec_django.queues.route_task",),
        "CELERY_TASK_DEFAULT_QUEUE": "llmrec",
        # Idempotent tasks: acknowledge after the work, so a crashed worker's task is redelivered.
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        # Bound the memory of worker children (KiB); a child over it is replaced after its task.
        "CELERY_WORKER_MAX_MEMORY_PER_CHILD": 2_000_000,
        "CELERY_TASK_SERIALIZER": "json",
        "CELERY_RESULT_SERIALIZER": "json",
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_RESULT_EXPIRES": 3600,
        # Celery's Django fixup closes the database connection around every task unless this is
        # set (then every this many tasks); the app's tasks check it as Django checks a request's
        # (CONN_MAX_AGE, health checks, errors: ``llmrec_django.tasks``) instead.
        "CELERY_DB_REUSE_MAX": 10_000,
    }
    if not broker_url:
        return {
            **common,
            "CELERY_TASK_ALWAYS_EAGER": True,
            "CELERY_TASK_EAGER_PROPAGATES": True,
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": "cache+memory://",
        }
    if broker_url.startswith("filesystem://"):
        folder = home / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (home / "results").mkdir(parents=True, exist_ok=True)
        return {
            **common,
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {
                "data_folder_in": str(folder / "queue"),
                "data_folder_out": str(folder / "queue"),
                "processed_folder": str(folder / "processed"),
                # The exchange tables, else a "control" folder in the working directory.
                "control_folder": str(folder / "control"),
                "store_processed": False,
            },
            "CELERY_RESULT_BACKEND": result_backend or f"file://{home / 'results'}",
        }
    if result_backend is None and broker_url.startswith(("redis://", "rediss://")):
        result_backend = broker_url
    return {
        **common,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": result_backend,
        # Redis redelivers an unacknowledged task after this; it must outlast the longest task
        # (a training run), or the task runs twice.
        "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 6 * 3600},
    }
