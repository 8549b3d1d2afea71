"""The learning loop running for real, as the demo and the compose stack run it: Celery beat with
django-celery-beat's database scheduler sends the loop's entries, a separate worker process does
the work. The admin's edit of an entry (here: the refit every second) is what beat follows."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from llmrec_django.learning import loop
from llmrec_django.models import Interaction, RankingModel, UserProfile
from tests.broker_helpers import ROOT, WorkerProcess, wait_until
from tests.recommend_helpers import make_item

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _behaviour_log(tenant) -> None:
    """Forty users who each follow one of two tastes, item after item, over a few days: 240
    purchases, over the default refit threshold (the worker runs the default settings)."""
    items = [make_item(tenant, f"i{n}", f"Item {n}", category="films" if n % 2 else "gear") for n in range(16)]
    users = UserProfile.objects.bulk_create(UserProfile(tenant=tenant, external_id=f"u{u}") for u in range(40))
    start = timezone.now() - timedelta(days=30)
    Interaction.objects.bulk_create(
        Interaction(
            tenant=tenant,
            event_id=f"{u}-{step}",
            user=user,
            item=items[u % 2 :: 2][(u + step) % 8],
            event_type="purchase",
            timestamp=start + timedelta(days=step, hours=u),
        )
        for u, user in enumerate(users)
        for step in range(6)
    )
    assert Interaction.objects.count() >= loop.llmrec_settings.LEARNING_LOOP["REFIT_MIN_NEW_INTERACTIONS"]


def test_beat_sends_the_refit_and_a_worker_fits_the_ranking(tenant, broker, broker_app, tmp_path, settings):
    _behaviour_log(tenant)
    assert loop.install_periodic_tasks()  # what demo_setup and the compose stack's migrate step run
    # The admin sets the refit to every second and turns the rest off.
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.exclude(name="llmrec: refit ranking").update(enabled=False)
    refit = PeriodicTask.objects.get(name="llmrec: refit ranking")
    refit.crontab, refit.interval = None, every_second
    refit.save()

    worker = WorkerProcess(broker.url, tmp_path / "worker.log")
    beat_log = open(tmp_path / "beat.log", "a")  # noqa: SIM115 - the process writes it until stopped
    beat = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "example_site", "beat", "--loglevel", "INFO",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1", "--pidfile=",
        ],
        cwd=ROOT, env=worker.env, stdout=beat_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker.start()
    try:
        wait_until(lambda: RankingModel.objects.filter(tenant=tenant).exists(), seconds=120)
    finally:
        beat.terminate()
        beat.wait(timeout=20)
        worker.stop()
        beat_log.close()
    logs = (tmp_path / "beat.log").read_text()[-2000:] + (tmp_path / "worker.log").read_text()[-3000:]
    blend = RankingModel.objects.filter(tenant=tenant).first()
    assert blend is not None, logs
    assert "llmrec_django.tasks.refit_ranking_models" in (tmp_path / "beat.log").read_text()
    assert blend.metrics["last_interaction_id"] == Interaction.objects.order_by("-pk").values_list("pk", flat=True)[0]
    refit.refresh_from_db()
    assert refit.total_run_count >= 1 and refit.last_run_at is not None
    # Nothing new since: the next ticks queue nothing (one blend, however many ticks ran).
    assert not loop.refit_due(tenant) and RankingModel.objects.filter(tenant=tenant).count() == 1
    # The entries the admin turned off never ran.
    assert not PeriodicTask.objects.filter(enabled=False, total_run_count__gt=0).exists()
