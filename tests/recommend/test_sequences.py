"""What people do next: transitions and the sequential model in the served list and the blend."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from llmrec_django.catalogue import collaborative, sequences
from llmrec_django.core import ranking
from llmrec_django.learning.blend import fit_ranking_model
from llmrec_django.models import Interaction, UserProfile
from llmrec_django.recommend import recommend_for_user
from llmrec_django.recommend.state import usable_blend
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db

SERIES = 5


@pytest.fixture
def series(tenant, settings):
    """A five-volume series read in order by 30 readers (each starting at a random volume and
    reading on), plus unrelated items viewed in between; the volumes' vectors say nothing of order."""
    settings.LLMREC = {
        **settings.LLMREC,
        "SEQUENTIAL": {
            "MIN_USERS": 10,
            "BUDGET_SECONDS": 30,
            "OPTIONS": {
                "dimension": 16,
                "layers": 1,
                "max_length": 8,
                "max_epochs": 40,
                "patience": 40,
                "dropout": 0.0,
            },
        },
    }
    rng = np.random.default_rng(0)
    volumes = [
        make_item(tenant, f"vol-{v}", f"Harbour Tales {v}", vector=[1, 0.1 * (v % 2), 0, 0])
        for v in range(1, SERIES + 1)
    ]
    others = [make_item(tenant, f"other-{j}", f"Other {j}", vector=rng.normal(size=4)) for j in range(6)]
    start = timezone.now() - timedelta(days=30)
    events = []
    for u in range(30):
        user = UserProfile.objects.create(tenant=tenant, external_id=f"reader-{u}")
        first = int(rng.integers(0, 2))
        moment = start + timedelta(hours=u)
        for v in range(first, SERIES):
            events.append(
                Interaction(
                    tenant=tenant,
                    event_id=f"r{u}-{v}",
                    user=user,
                    item=volumes[v],
                    event_type="purchase",
                    timestamp=moment,
                )
            )
            moment += timedelta(hours=2)
            other = others[int(rng.integers(len(others)))]
            events.append(
                Interaction(
                    tenant=tenant, event_id=f"o{u}-{v}", user=user, item=other, event_type="view", timestamp=moment
                )
            )
            moment += timedelta(hours=2)
    Interaction.objects.bulk_create(events)
    reader = UserProfile.objects.create(tenant=tenant, external_id="new-reader")
    for v in range(2):  # volumes 1 and 2, just now
        Interaction.objects.create(
            tenant=tenant,
            event_id=f"n{v}",
            user=reader,
            item=volumes[v],
            event_type="purchase",
            timestamp=timezone.now() - timedelta(hours=4 - v),
        )
    activate(tenant, volumes + others)
    return volumes, reader


def test_the_next_volume_comes_first_and_says_why(series, tenant):
    volumes, reader = series
    record = collaborative.fit_collaborative_model(tenant, factors=2, iterations=5)
    assert record.params["transitions"]["pairs"] > 0
    assert record.params["sequential"]["valid_ndcg@10"] > 0
    model = collaborative.current_model(tenant)
    assert model.sequences.sequential is not None, "stored and loaded with the collaborative model"
    fit_ranking_model(tenant, seed=0)  # the blend learns that what comes next matters here
    result = recommend_for_user(reader, tenant=tenant, k=3, mmr_lambda=1.0)
    first = result.items[0]
    assert first.title == "Harbour Tales 3"
    assert {"transition", "sequential"} & set(first.sources)
    explanations = " ".join(r.explanation for r in result.items)
    assert 'after "Harbour Tales 2"' in explanations


def test_llmrec_fit_chooses_the_collaborative_settings_on_the_sites_data(series, tenant, settings):
    settings.LLMREC = {
        **settings.LLMREC,
        "TUNING": {
            "BUDGET_SECONDS": 30,
            "ALS": {"alpha": [], "regularization": [], "factors": [2, 4]},
            "ITEM_KNN_NEIGHBOURS": [2],
        },
        "ALS": {"factors": 8, "iterations": 3},
    }
    record = collaborative.fit_collaborative_model(tenant)
    tuning = record.params["tuning"]
    tried = [f["params"]["factors"] for f in tuning["als"]]
    assert tried == [8, 2, 4] and [f["params"]["k"] for f in tuning["item_knn"]] == [50, 2]
    best = max(tuning["als"], key=lambda f: f["ndcg@10"])
    assert record.params["factors"] == best["params"]["factors"]
    assert collaborative.chosen_params(tenant.pk)["factors"] == record.params["factors"]


def test_history_to_sequence_keeps_engagements_in_order():
    now = timezone.now()
    events = [  # latest first, as the service reads them
        (3, "view", None, now, "", ""),
        (3, "click", None, now - timedelta(minutes=1), "", ""),
        (9, "impression", None, now - timedelta(minutes=2), "", ""),
        (2, "dislike", None, now - timedelta(minutes=3), "", ""),
        (1, "rating", 2.0, now - timedelta(minutes=4), "", ""),
    ]
    items, times = sequences.from_history(events)
    assert items == [1, 3], "impressions and dislikes are not steps; a repeat is one step"
    assert times[-1] == now.timestamp()


def test_the_blend_sees_the_new_features_and_never_ranks_below_its_best_component(series, tenant):
    record = fit_ranking_model(tenant, seed=0)
    figures = record.metrics["ndcg@10"]
    assert {"blend", "sequential", "transition", "collaborative"} <= set(figures)
    assert record.metrics["choice"]
    served = usable_blend(record.pk, record.model)
    best_single = max(v for k, v in figures.items() if k != "blend")
    if record.model["extra"].get("single_feature"):
        assert figures[record.model["extra"]["single_feature"]] == best_single
    else:
        assert figures["blend"] >= best_single
    assert served.feature_names == ranking.HYBRID_FEATURES


def test_a_blend_fitted_before_the_new_features_still_serves():
    old = ranking.BlendModel(
        weights=np.array([1.0, 0.5]), bias=0.1, mean=np.zeros(2), scale=np.ones(2),
        feature_names=("relevance", "collaborative"), l2=1.0, train_loss=0.5, initial_loss=0.6, n_train=10,
    )  # fmt: skip
    served = usable_blend(1, old.to_dict())
    assert served.feature_names == ranking.HYBRID_FEATURES
    features = np.random.default_rng(0).normal(size=(4, len(ranking.HYBRID_FEATURES)))
    np.testing.assert_allclose(served.logits(features), old.logits(features[:, :2]))


def test_never_below_best_component_picks_the_better_single_feature():
    names = ("relevance", "collaborative")
    blend = ranking.BlendModel(
        weights=np.array([1.0, -1.0]), bias=0.0, mean=np.zeros(2), scale=np.ones(2), feature_names=names, l2=1.0,
        train_loss=0.5, initial_loss=0.6, n_train=10, extra={"ndcg@10": {"blend": 0.2, "relevance": 0.1, "collaborative": 0.4}},
    )  # fmt: skip
    chosen = ranking.never_below_best_component(blend)
    assert chosen.extra["single_feature"] == "collaborative"
    assert chosen.score(np.array([[0.0, 2.0], [5.0, 1.0]])).argmax() == 0
    blend.extra["ndcg@10"] = {"blend": 0.5, "relevance": 0.1, "collaborative": 0.4}
    assert ranking.never_below_best_component(blend) is blend


def test_the_admin_shows_each_components_figure_and_the_choice(series, tenant, admin_client, settings):
    from django.urls import reverse

    settings.LLMREC = {**settings.LLMREC, "TUNING": {"BUDGET_SECONDS": 5}, "ALS": {"factors": 4, "iterations": 3}}
    model = collaborative.fit_collaborative_model(tenant)
    blend = fit_ranking_model(tenant, seed=0)
    page = admin_client.get(reverse("admin:llmrec_django_collaborativemodel_change", args=[model.pk])).content.decode()
    assert "How the settings were chosen" in page and "item-KNN" in page and "transitions:" in page
    assert "sequential: validation NDCG@10" in page
    page = admin_client.get(reverse("admin:llmrec_django_rankingmodel_change", args=[blend.pk])).content.decode()
    assert blend.metrics["choice"].split(":")[0] in page
    for name in ("blend", "sequential", "transition"):
        assert f"<td>{name}</td>" in page
    listing = admin_client.get(reverse("admin:llmrec_django_collaborativemodel_changelist")).content.decode()
    assert "item_knn_neighbours=" in listing
