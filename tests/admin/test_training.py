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
