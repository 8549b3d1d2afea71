"""The training runs' admin: the list, the change page with its SVG chart, promote and roll back."""

import re

import pytest
from django.urls import reverse

from llmrec_django.admin.training_chart import epoch_chart_svg
from llmrec_django.database import vectorstore
from llmrec_django.models import EmbeddingVersion, TrainingRun

EPOCHS = [
    {"epoch": 1, "train_loss": 2.5, "valid_loss": 2.0, "valid_accuracy": 0.2, "seconds": 3.0, "best": True},
    {"epoch": 2, "train_loss": 1.5, "valid_loss": 1.8, "valid_accuracy": 0.4, "seconds": 3.1, "best": True},
    {"epoch": 3, "train_loss": 1.0, "valid_loss": None, "valid_accuracy": 0.5, "seconds": 2.9, "best": False},
]


def _version(tenant, status):
    version = vectorstore.create_version(tenant, model_name="m", model_path="/m", dimension=4)
    version.status = status
    version.save()
    return version


@pytest.fixture
def runs(tenant):
    active = _version(tenant, EmbeddingVersion.Status.READY)
    vectorstore.activate_version(active)
    candidate = _version(tenant, EmbeddingVersion.Status.READY)
    run = TrainingRun.objects.create(
        tenant=tenant,
        kind="encoder",
        status="succeeded",
        promotion="pending",
        epochs=EPOCHS,
        embedding_version=candidate,
        metrics={
            "metric": "ndcg@10",
            "baseline": 0.2,
            "candidate": 0.25,
            "relative_gain": 0.25,
            "relative_gain_interval": {"interval": [-0.05, 0.6], "confidence": 0.95, "users": 40},
            "references": {"most_popular": 0.1, "item_knn": 0.18, "als": 0.21},
            "baseline_model": f"embedding version {active.pk}",
            "baseline_metrics": {"ndcg@10": 0.2, "recall@10": 0.3},
            "candidate_metrics": {"ndcg@10": 0.25, "recall@10": 0.35},
        },
    )
    failed = TrainingRun.objects.create(tenant=tenant, kind="reranker", status="failed", error="ValueError: no data")
    return active, candidate, run, failed


def test_the_chart_draws_one_line_per_series_and_skips_missing_values():
    svg = epoch_chart_svg(EPOCHS)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 3  # train loss, validation loss, validation accuracy
    with_ranking = epoch_chart_svg([{**e, "valid_ndcg@10": 0.01 * e["epoch"]} for e in EPOCHS])
    assert with_ranking.count("<polyline") == 4 and "validation NDCG@10 over the catalogue" in with_ranking
    assert "train loss" in svg and "validation loss" in svg and "validation accuracy" in svg
    assert "nan" not in svg.lower()
    assert epoch_chart_svg([{"epoch": 1, "train_loss": None}]) == ""
    assert epoch_chart_svg([]) == ""


def test_the_list_and_change_pages_show_runs_with_their_chart_and_error(admin_client, runs):
    _, _, run, failed = runs
    page = admin_client.get(reverse("admin:llmrec_django_trainingrun_changelist")).content.decode()
    assert "ndcg@10 0.2500 vs 0.2000: +25.0% (95% interval -5.0% .. +60.0%, 40 users)" in page
    page = admin_client.get(reverse("admin:llmrec_django_trainingrun_change", args=[run.pk])).content.decode()
    assert re.search(r"<svg[^>]*aria-label=\"Loss and validation metrics per epoch\"", page)
    assert "<td>recall@10</td><td>0.3500</td><td>0.3000</td>" in page
    assert "Baselines on the same split: most_popular 0.1000, item_knn 0.1800, als 0.2100" in page
    page = admin_client.get(reverse("admin:llmrec_django_trainingrun_change", args=[failed.pk])).content.decode()
    assert "ValueError: no data" in page


def test_promote_and_roll_back_from_the_admin(admin_client, tenant, runs):
    active, candidate, run, failed = runs
    changelist = reverse("admin:llmrec_django_trainingrun_changelist")
    admin_client.post(changelist, {"action": "promote", "_selected_action": [run.pk]})
    assert vectorstore.active_version(tenant).pk == candidate.pk
    run.refresh_from_db()
    assert run.promotion == "active" and run.previous_version_id == active.pk
    admin_client.post(changelist, {"action": "roll_back", "_selected_action": [run.pk]})
    assert vectorstore.active_version(tenant).pk == active.pk
    response = admin_client.post(changelist, {"action": "promote", "_selected_action": [failed.pk]}, follow=True)
    assert "only a finished run can be promoted" in response.content.decode()


def test_a_runs_page_reads_as_a_report_without_a_save_button(admin_client, runs):
    _, _, run, _ = runs
    TrainingRun.objects.filter(pk=run.pk).update(
        params={"lr": 0.003, "epochs": 12, "trainable": "projection"},
        data_window={"users": 608, "train_pairs": 60106, "first": "2018-01-01"},
    )
    page = admin_client.get(reverse("admin:llmrec_django_trainingrun_change", args=[run.pk])).content.decode()
    assert 'name="_save"' not in page and "<textarea" not in page
    assert "<tr><th>lr</th><td>0.003</td></tr>" in page and "<tr><th>train pairs</th><td>60106</td></tr>" in page
    assert '{"lr"' not in page and "&quot;lr&quot;" not in page  # no raw JSON
    assert "<th>train loss</th>" in page and "<td>1.5</td>" in page  # the epochs as a table
    assert "Succeeded" in page


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_is_marked_failed_not_running_forever(admin_client, tenant):
    from datetime import timedelta

    from django.utils import timezone

    from llmrec_django.learning.training import runs as training_runs

    now = timezone.now()
    dead = TrainingRun.objects.create(
        tenant=tenant, kind="encoder", status="running", stage="training", progress=0.05,
        started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(minutes=20),
    )  # fmt: skip
    alive = TrainingRun.objects.create(
        tenant=tenant, kind="reranker", status="running", stage="training", progress=0.5,
        started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(seconds=20),
    )  # fmt: skip
    assert not training_runs.retraining_due(tenant, "reranker")  # a live run is under way
    page = admin_client.get(reverse("admin:llmrec_django_trainingrun_changelist")).content.decode()
    dead.refresh_from_db()
    assert dead.status == "failed" and "stopped reporting" in dead.error and "5%" in dead.error
    assert "failed at 5%" in page
    alive.refresh_from_db()
    assert alive.status == "running"
    shown = admin_client.get(reverse("admin:llmrec_django_trainingrun_change", args=[alive.pk])).content.decode()
    assert "Running: training (50% of the training steps, last heard from" in shown
    # The heartbeat: while a run's block runs, its process reports.
    TrainingRun.objects.filter(pk=alive.pk).update(heartbeat_at=now - timedelta(minutes=5))
    with training_runs.heartbeat(alive.pk, every=0.05):
        deadline = timezone.now() + timedelta(seconds=5)
        while TrainingRun.objects.get(pk=alive.pk).heartbeat_at < now and timezone.now() < deadline:
            pass
    alive.refresh_from_db()
    assert alive.heartbeat_at >= now
