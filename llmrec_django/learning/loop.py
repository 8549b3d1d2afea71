"""The learning loop on a schedule: what runs when, and what is due.

New interactions -> refit the ranking (collaborative model, sequences, blend: ``refit_ranking``)
-> fine-tune the encoder and the re-ranker when enough new data arrived (``retrain``) -> re-embed
-> evaluate -> promote or keep the active model, the candidate encoder getting its own blend
before it can serve (``training.runs.finish_run``) -> after a switch, refit the ranking for the
version that serves (``after_switch``). Around it: attribution of events to served lists, the
outbox, and the reaper of dead training runs.

The entries and their times are ``LLMREC["LEARNING_LOOP"]["SCHEDULE"]`` (a crontab string
``"minute hour day month weekday"`` or a number of seconds). With ``django-celery-beat``
installed, ``python manage.py llmrec_schedule`` writes them as periodic tasks (beat started with
``--scheduler django_celery_beat.schedulers:DatabaseScheduler``), which the admin then edits,
disables or runs at once; it never overwrites an entry that exists. Without it, a site's Celery
app sets ``app.conf.beat_schedule = loop.beat_schedule()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from celery.schedules import crontab
from django.apps import apps
from django.db import transaction

from llmrec_django import queues
from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.schedules import parse_schedule
from llmrec_django.database import outbox
from llmrec_django.learning.evaluation import SCRATCH_SUFFIX
from llmrec_django.models import Interaction, PendingWork, RankingModel, Tenant


@dataclass(frozen=True)
class LoopEntry:
    key: str  # in LEARNING_LOOP["SCHEDULE"]
    task: str
    description: str

    @property
    def name(self) -> str:  # the periodic task's name (unique in django-celery-beat)
        return f"llmrec: {self.key.replace('_', ' ')}"


ENTRIES = (
    LoopEntry(
        "refit_ranking",
        queues.REFIT_RANKING_MODELS,
        "Refit each tenant's collaborative model, sequences and blend when at least "
        'LEARNING_LOOP["REFIT_MIN_NEW_INTERACTIONS"] interactions arrived since its last blend.',
    ),
    LoopEntry(
        "retrain",
        queues.SCHEDULE_RETRAINING,
        "Fine-tune the encoder and the re-ranker of each tenant with at least "
        'TRAINING["MIN_NEW_INTERACTIONS"] new interactions; a run re-embeds, evaluates and promotes '
        "only a model that beats the active one.",
    ),
    LoopEntry("attribute_events", queues.ATTRIBUTE_EVENTS, "Credit new events to the lists that showed their items."),
    LoopEntry("reap_stalled_runs", queues.REAP_STALLED_RUNS, "Mark failed the training runs whose process died."),
    LoopEntry("drain_outbox", queues.DRAIN_OUTBOX, "Send the work a broker outage kept back."),
    LoopEntry(
        "batch",
        queues.SCHEDULED_BATCH,
        'Compute the batch lists of every tenant\'s active users (LLMREC["BATCH"]); off unless scheduled.',
    ),
)


def configured_entries() -> list[tuple[LoopEntry, crontab | float | None]]:
    """Each entry with its schedule from the settings; None where the setting turns it off."""
    schedule = llmrec_settings.LEARNING_LOOP["SCHEDULE"]
    return [
        (entry, None if schedule.get(entry.key) is None else parse_schedule(schedule[entry.key])) for entry in ENTRIES
    ]


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule`` for the loop (sites without django-celery-beat)."""
    return {entry.name: {"task": entry.task, "schedule": when} for entry, when in configured_entries() if when}


def install_periodic_tasks() -> list[str]:
    """Write the loop's entries as django-celery-beat periodic tasks; an entry that exists (by
    name) is left as the admin set it. Returns the names created."""
    if not apps.is_installed("django_celery_beat"):
        raise LookupError(
            "django_celery_beat is not in INSTALLED_APPS: add it (pip install django-celery-beat) or set "
            "app.conf.beat_schedule = llmrec_django.learning.loop.beat_schedule() in your Celery app."
        )
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = []
    with transaction.atomic():
        for entry, when in configured_entries():
            if when is None or PeriodicTask.objects.filter(name=entry.name).exists():
                continue
            if isinstance(when, crontab):
                spec = llmrec_settings.LEARNING_LOOP["SCHEDULE"][entry.key].split()
                cron, _ = CrontabSchedule.objects.get_or_create(
                    minute=spec[0], hour=spec[1], day_of_month=spec[2], month_of_year=spec[3], day_of_week=spec[4]
                )
                schedule = {"crontab": cron}
            else:
                interval, _ = IntervalSchedule.objects.get_or_create(every=int(when), period=IntervalSchedule.SECONDS)
                schedule = {"interval": interval}
            PeriodicTask.objects.create(
                name=entry.name, task=entry.task, description=entry.description, args=json.dumps([]), **schedule
            )
            created.append(entry.name)
    return created


def periodic_tasks() -> list[dict[str, Any]]:
    """The loop's periodic tasks as stored (name, task, schedule, enabled, last run); [] without
    django-celery-beat."""
    if not apps.is_installed("django_celery_beat"):
        return []
    from django_celery_beat.models import PeriodicTask

    names = [entry.name for entry in ENTRIES]
    return [
        {
            "name": task.name,
            "task": task.task,
            "schedule": str(task.schedule),
            "enabled": task.enabled,
            "last_run_at": task.last_run_at,
            "total_run_count": task.total_run_count,
        }
        for task in PeriodicTask.objects.filter(name__in=names).select_related("crontab", "interval").order_by("pk")
    ]


# ---------------------------------------------------------------------------------------------
# What is due


def new_interactions_since_refit(tenant: Tenant) -> int:
    """Interactions stored after the newest one the tenant's latest blend could see (every one
    when it has none, or one fitted before blends recorded it)."""
    latest = RankingModel.objects.for_tenant(tenant).values_list("metrics", flat=True).first()
    events = Interaction.objects.for_tenant(tenant)
    last_id = (latest or {}).get("last_interaction_id")
    return events.filter(pk__gt=last_id).count() if last_id is not None else events.count()


def refit_due(tenant: Tenant) -> bool:
    threshold = int(llmrec_settings.LEARNING_LOOP["REFIT_MIN_NEW_INTERACTIONS"])
    return new_interactions_since_refit(tenant) >= max(threshold, 1)


def refit_pending(tenant: Tenant) -> bool:
    """Whether a refit of ``tenant`` is queued or running (its outbox row stays until it is done)."""
    return PendingWork.objects.filter(tenant_id=tenant.pk, task=queues.TRAIN_RANKING, given_up_at__isnull=True).exists()


def tenants_due_for_refit() -> list[Tenant]:
    tenants = Tenant.objects.exclude(slug__endswith=SCRATCH_SUFFIX).order_by("pk")
    return [tenant for tenant in tenants if refit_due(tenant) and not refit_pending(tenant)]


def queue_refit(tenant: Tenant) -> None:
    """Queue ``train_ranking`` for ``tenant`` through the outbox (sent when the transaction
    commits; with the broker down it waits for ``drain_outbox``). Queued twice before a worker
    takes it, it runs once (the outbox keys work by task and arguments)."""
    outbox.enqueue(tenant.pk, queues.TRAIN_RANKING, [(tenant.pk,)])


def after_switch(tenant: Tenant) -> bool:
    """After an encoder was switched on or rolled back: refit the ranking for the version that
    now serves (its sequential model reads that version's vectors), when the setting asks."""
    if not llmrec_settings.LEARNING_LOOP["REFIT_AFTER_SWITCH"]:
        return False
    queue_refit(tenant)
    return True
