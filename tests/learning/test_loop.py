"""The learning loop: its schedule in django-celery-beat, what is due, and the blend that serves
with each embedding version (a candidate encoder gets its own before it can be switched on)."""

from datetime import timedelta

import numpy as np
import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from llmrec_django import queues, tasks
from llmrec_django.database import vectorstore
from llmrec_django.learning import loop
from llmrec_django.learning.blend import fit_ranking_model
from llmrec_django.learning.training import promotion
from llmrec_django.models import (
    EmbeddingVersion,
    Interaction,
    Item,
    PendingWork,
    RankingModel,
    TrainingRun,
    UserProfile,
)
from llmrec_django.recommend.state import serving_blend_record, serving_state


def _loop_settings(settings, **changes):
    settings.LLMREC = {**settings.LLMREC, "LEARNING_LOOP": {**settings.LLMREC.get("LEARNING_LOOP", {}), **changes}}


# ---------------------------------------------------------------------------------------------
# The schedule


def test_schedules_are_seconds_or_five_field_crontabs():
    assert loop.parse_schedule(10) == 10.0
    cron = loop.parse_schedule("30 * * * *")
    assert isinstance(cron, crontab) and cron.minute == {30} and len(cron.hour) == 24
    assert loop.parse_schedule("15 3 * * 1-5").day_of_week == {1, 2, 3, 4, 5}
    for bad in (
        0,
        -5,
        float("nan"),
        float("inf"),
        True,
        "30 * * *",
        "61 * * * *",
        "* 25 * * *",
        "every hour",
        None,
        [1],
    ):
        with pytest.raises(ValueError):
            loop.parse_schedule(bad)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.booleans()))
def test_a_schedule_setting_parses_or_is_refused_with_a_value_error(value):
    try:
        schedule = loop.parse_schedule(value)
    except ValueError:
        return
    assert isinstance(schedule, crontab) or schedule > 0


def test_beat_schedule_has_every_entry_and_drops_those_turned_off(settings):
    schedule = loop.beat_schedule()
    assert {entry["task"] for entry in schedule.values()} == {
        queues.REFIT_RANKING_MODELS,
        queues.SCHEDULE_RETRAINING,
        queues.ATTRIBUTE_EVENTS,
        queues.REAP_STALLED_RUNS,
        queues.DRAIN_OUTBOX,
    }
    assert schedule["llmrec: drain outbox"]["schedule"] == 10.0
    _loop_settings(settings, SCHEDULE={"retrain": None})  # merged key by key with the defaults
    assert "llmrec: retrain" not in loop.beat_schedule() and len(loop.beat_schedule()) == 4
    # Every task the loop names exists (beat would send a message no worker knows).
    from celery import current_app

    assert all(entry["task"] in current_app.tasks for entry in schedule.values())


@pytest.mark.django_db
def test_installing_the_schedule_adds_what_is_missing_and_keeps_what_the_admin_changed(settings):
    call_command("llmrec_schedule")
    stored = {task.name: task for task in PeriodicTask.objects.filter(name__startswith="llmrec: ")}
    assert set(stored) == {entry.name for entry, when in loop.configured_entries() if when is not None}
    refit = stored["llmrec: refit ranking"]
    assert refit.task == queues.REFIT_RANKING_MODELS and refit.crontab.minute == "30" and refit.enabled
    assert stored["llmrec: drain outbox"].interval.every == 10

    # The admin moves the refit to 04:00 and turns attribution off; installing again keeps both.
    refit.crontab = CrontabSchedule.objects.create(minute="0", hour="4")
    refit.save()
    PeriodicTask.objects.filter(name="llmrec: attribute events").update(enabled=False)
    assert loop.install_periodic_tasks() == []
    assert PeriodicTask.objects.get(name="llmrec: refit ranking").crontab.hour == "4"
    assert not PeriodicTask.objects.get(name="llmrec: attribute events").enabled
    listed = {task["name"]: task for task in loop.periodic_tasks()}
    assert listed["llmrec: refit ranking"]["enabled"] and not listed["llmrec: attribute events"]["enabled"]

    # A deleted entry comes back; a bad schedule in the settings is a clear error, nothing half-written.
    PeriodicTask.objects.filter(name="llmrec: drain outbox").delete()
    _loop_settings(settings, SCHEDULE={"drain_outbox": 10, "retrain": "at three"})
    with pytest.raises(CommandError, match="five fields"):
        call_command("llmrec_schedule")
    assert not PeriodicTask.objects.filter(name="llmrec: drain outbox").exists()
    _loop_settings(settings, SCHEDULE={"drain_outbox": 5})
    assert loop.install_periodic_tasks() == ["llmrec: drain outbox"]
    assert PeriodicTask.objects.get(name="llmrec: drain outbox").interval.every == 5


def test_without_django_celery_beat_installing_says_what_to_do(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_celery_beat"]
    with pytest.raises(LookupError, match="beat_schedule"):
        loop.install_periodic_tasks()
    assert loop.periodic_tasks() == []


# ---------------------------------------------------------------------------------------------
# What is due, and the refit


def _new_clicks(tenant, n: int) -> None:
    user = UserProfile.objects.for_tenant(tenant).first()
    items = list(Item.objects.for_tenant(tenant).order_by("pk"))
    now = timezone.now()
    Interaction.objects.bulk_create(
        Interaction(
            tenant=tenant,
            event_id=f"new-{n}-{k}",
            user=user,
            item=items[k % len(items)],
            event_type="click",
            timestamp=now + timedelta(seconds=k),
        )
        for k in range(n)
    )


def test_the_refit_is_due_after_enough_new_interactions_and_queued_once(tenant, shop, settings):
    _loop_settings(settings, REFIT_MIN_NEW_INTERACTIONS=50)
    assert loop.new_interactions_since_refit(tenant) == 72  # no blend yet: every interaction is new
    assert loop.refit_due(tenant)
    record = fit_ranking_model(tenant)
    assert record.metrics["last_interaction_id"] == Interaction.objects.order_by("-pk").values_list("pk", flat=True)[0]
    assert loop.new_interactions_since_refit(tenant) == 0 and not loop.refit_due(tenant)

    _new_clicks(tenant, 49)
    assert not loop.refit_due(tenant) and tasks.refit_ranking_models() == []
    _new_clicks(tenant, 1)
    assert loop.refit_due(tenant)
    # Queued through the outbox (no commit in this test, so nothing sent): a second tick adds nothing.
    assert tasks.refit_ranking_models() == [tenant.pk]
    assert PendingWork.objects.filter(task=queues.TRAIN_RANKING, args=[tenant.pk]).count() == 1
    assert tasks.refit_ranking_models() == []


def test_the_scheduled_refit_runs_train_ranking_through_celery(
    tenant, shop, settings, django_capture_on_commit_callbacks
):
    _loop_settings(settings, REFIT_MIN_NEW_INTERACTIONS=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.refit_ranking_models() == [tenant.pk]
    # Eager in the tests: the refit ran here, and its outbox row went with it.
    blend = RankingModel.objects.for_tenant(tenant).first()
    assert blend is not None and blend.embedding_version == vectorstore.active_version(tenant)
    assert not PendingWork.objects.filter(task=queues.TRAIN_RANKING).exists()
    assert not loop.refit_due(tenant)


# ---------------------------------------------------------------------------------------------
# Which blend serves


def _ready_copy(version):
    copy = vectorstore.create_version(version.tenant, model_name="tuned", model_path=version.model_path, dimension=32)
    ids = list(Item.objects.for_tenant(version.tenant).values_list("pk", flat=True))
    rows = vectorstore.item_vectors(version, ids)
    vectorstore.write_item_vectors(copy, list(rows), np.stack(list(rows.values())), ["copied"] * len(rows))
    copy.status = EmbeddingVersion.Status.READY
    copy.save()
    return copy


def test_the_blend_of_the_active_version_serves_and_a_candidates_never_serves_another(tenant, shop):
    _, _, base = shop
    legacy = RankingModel.objects.create(tenant=tenant, model={}, feature_names=[])  # before blends had versions
    assert serving_blend_record(tenant.pk, base)[0] == legacy.pk
    for_base = RankingModel.objects.create(tenant=tenant, embedding_version=base, model={})
    candidate = _ready_copy(base)
    for_candidate = RankingModel.objects.create(tenant=tenant, embedding_version=candidate, model={})
    # The candidate's blend is the newest, but its version never served: the base keeps its own.
    assert serving_blend_record(tenant.pk, base)[0] == for_base.pk
    assert serving_blend_record(tenant.pk, candidate)[0] == for_candidate.pk
    # A version with no blend of its own (rebuilt by hand) takes the latest of one that served.
    rebuilt = _ready_copy(base)
    assert serving_blend_record(tenant.pk, rebuilt)[0] == for_base.pk
    vectorstore.activate_version(candidate)
    assert serving_blend_record(tenant.pk, rebuilt)[0] == for_candidate.pk


def test_a_better_encoder_gets_its_blend_before_the_switch_and_rollback_restores_the_old(
    tenant, shop, settings, django_capture_on_commit_callbacks
):
    _, _, base = shop
    base_blend = fit_ranking_model(tenant)
    candidate = _ready_copy(base)
    run = TrainingRun.objects.create(
        tenant=tenant,
        kind="encoder",
        status=TrainingRun.Status.SUCCEEDED,
        embedding_version=candidate,
        metrics={"metric": "ndcg@10", "baseline": 0.5, "candidate": 0.6, "relative_gain": 0.2},
    )
    record = promotion.fit_candidate_blend(run)
    assert record.embedding_version == candidate and run.metrics["blend"]["id"] == record.pk
    assert TrainingRun.objects.get(pk=run.pk).metrics["blend"]["id"] == record.pk
    # Not switched on yet: the base version serves with its own blend.
    assert serving_state(tenant.pk).blend[0] == base_blend.pk

    with django_capture_on_commit_callbacks(execute=False) as sends:
        promotion.promote(run)
    assert serving_state(tenant.pk).version.pk == candidate.pk
    assert serving_state(tenant.pk).blend[0] == record.pk
    # The ranking is refitted for the version that now serves (queued through the outbox).
    assert PendingWork.objects.filter(task=queues.TRAIN_RANKING, args=[tenant.pk]).exists()
    assert sends

    promotion.rollback(run)
    assert serving_state(tenant.pk).version.pk == base.pk and serving_state(tenant.pk).blend[0] == base_blend.pk


def test_no_refit_after_a_switch_when_the_setting_says_so(tenant, shop, settings):
    _loop_settings(settings, REFIT_AFTER_SWITCH=False)
    _, _, base = shop
    run = TrainingRun.objects.create(
        tenant=tenant, kind="encoder", status=TrainingRun.Status.SUCCEEDED, embedding_version=_ready_copy(base)
    )
    promotion.promote(run)
    assert not PendingWork.objects.filter(task=queues.TRAIN_RANKING).exists()


def test_the_run_says_which_blend_its_version_serves_with():
    assert promotion.describe_blend({}) == ""
    said = promotion.describe_blend({"blend": {"id": 7, "ndcg@10": 0.1234, "valid_auc": 0.8}})
    assert said == "its own blend (ranking model 7, NDCG@10 0.1234 on its validation) serves with it"
    said = promotion.describe_blend({"blend": {"id": None, "reason": "too few users"}})
    assert said.startswith("no blend of its own (too few users)")


def test_a_run_that_beats_the_active_encoder_is_switched_on_with_its_own_blend(tenant, shop, settings):
    """Through the whole run (train, re-embed, evaluate, candidate blend, decision): with every
    candidate counted as better, the run is promoted at once and serves with the blend it fitted."""
    from llmrec_django.learning.training import runs

    training = settings.LLMREC["TRAINING"]
    settings.LLMREC = {
        **settings.LLMREC,
        "TRAINING": {**training, "MIN_IMPROVEMENT": -1.0, "GUARDRAILS": {"diversity@10": 1.0, "coverage@10": 1.0}},
    }
    _, _, base = shop
    base_blend = fit_ranking_model(tenant)
    run = runs.execute_run(runs.create_run(tenant, "encoder", {"epochs": 1}).pk, auto_promote=True)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.promotion == TrainingRun.Promotion.ACTIVE and run.stage == "done"
    blend = RankingModel.objects.get(pk=run.metrics["blend"]["id"])
    assert blend.embedding_version_id == run.embedding_version_id != base.pk
    assert serving_state(tenant.pk).version.pk == run.embedding_version_id
    assert serving_state(tenant.pk).blend[0] == blend.pk != base_blend.pk
