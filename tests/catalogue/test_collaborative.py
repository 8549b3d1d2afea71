"""The per-tenant collaborative model (ALS + item-KNN): fitted on positive interactions, stored, loaded once."""

import pytest

from llmrec_django.catalogue import collaborative
from llmrec_django.database import artifacts, caches
from llmrec_django.models import CollaborativeModel, Interaction, Item, UserProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tenant, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path))
    caches.clear_all()
    items = [Item.objects.create(tenant=tenant, external_id=f"i{n}", title=f"Item {n}") for n in range(6)]
    users = [UserProfile.objects.create(tenant=tenant, external_id=f"u{n}") for n in range(6)]
    # Two taste groups: users 0-2 use items 0-2, users 3-5 use items 3-5; user 0 has not met item 2.
    n = 0
    for u, user in enumerate(users):
        group = range(0, 3) if u < 3 else range(3, 6)
        for i in group:
            if (u, i) != (0, 2):
                Interaction.objects.create(
                    tenant=tenant, event_id=f"e{n}", user=user, item=items[i], event_type="purchase"
                )
                n += 1
    Interaction.objects.create(tenant=tenant, event_id="dislike", user=users[0], item=items[5], event_type="dislike")
    return items, users


def test_fit_stores_a_file_and_a_record(shop, tenant, tmp_path):
    record = collaborative.fit_collaborative_model(tenant, factors=2, iterations=30)
    # Named relative to LLMREC_HOME (tmp_path here): the name every machine resolves (``artifacts``).
    assert record.path.startswith(f"models/{tenant.slug}/als-") and record.path.endswith(".npz")
    assert artifacts.local_path(record.path) == tmp_path / record.path
    assert record.n_users == 6 and record.n_items == 6
    assert record.n_interactions == 17, "the dislike is not a positive interaction"
    assert CollaborativeModel.objects.filter(tenant=tenant).first() == record


def test_a_user_gets_the_unseen_item_of_their_group(shop, tenant):
    items, users = shop
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=30)
    model = collaborative.current_model(tenant)
    seen = {items[0].pk, items[1].pk}
    best = next(iter(model.recommend(users[0].pk, 1, exclude=seen)))
    assert best == items[2].pk
    assert next(iter(model.similar(items[0].pk, 1))) in {items[1].pk, items[2].pk}


def test_item_neighbours_score_from_the_live_history(shop, tenant):
    items, users = shop
    collaborative.fit_collaborative_model(tenant, factors=2)
    model = collaborative.current_model(tenant)  # loaded back from the .npz
    i = [item.pk for item in items]
    # Binary cosine: items 0 and 1 share users {0, 1, 2}, item 2 has users {1, 2}:
    # cos(0, 2) = cos(1, 2) = 2 / (sqrt(3) sqrt(2)), so item 2 scores 2 * 0.8165 for a fan of 0 and 1.
    assert model.neighbour_recommend({i[0]: 1.0, i[1]: 1.0}, 5) == pytest.approx({i[2]: 4 / 6**0.5})
    # A user the model never saw is served from what they like now: cos(0, 1) = 1 beats cos(0, 2).
    assert list(model.neighbour_recommend([i[0]], 5)) == [i[1], i[2]]
    assert model.neighbour_recommend([i[0]], 5, exclude={i[1]}) == pytest.approx({i[2]: 2 / 6**0.5})
    assert model.neighbour_scores([i[0]], [i[1], i[4], 999_999]).tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert model.strongest_neighbour([i[0], i[4]], i[1]) == i[0]
    assert model.knows_items([i[0], 999_999]).tolist() == [True, False]
    assert model.neighbour_recommend([999_999], 5) == {}


def test_a_model_file_without_neighbours_still_loads(shop, tenant):
    import numpy as np

    record = collaborative.fit_collaborative_model(tenant, factors=2)
    with np.load(artifacts.local_path(record.path)) as data:
        old = {key: data[key] for key in ("user_ids", "item_ids", "user_factors", "item_factors")}
    np.savez(artifacts.local_path(record.path), **old)  # the layout written before item-KNN existed
    caches.clear_all()
    model = collaborative.current_model(tenant)
    assert model.item_neighbours is None and model.neighbour_recommend([shop[0][0].pk], 3) == {}
    assert model.recommend(shop[1][0].pk, 1)


def test_the_model_is_cached_until_a_new_one_is_fitted(shop, tenant):
    collaborative.fit_collaborative_model(tenant, factors=2)
    first = collaborative.current_model(tenant)
    assert collaborative.current_model(tenant) is first
    collaborative.fit_collaborative_model(tenant, factors=2)
    assert collaborative.current_model(tenant) is not first


def test_unknown_users_and_missing_models(shop, tenant):
    assert collaborative.current_model(tenant) is None
    collaborative.fit_collaborative_model(tenant, factors=2)
    stranger = UserProfile.objects.create(tenant=tenant, external_id="stranger")
    assert collaborative.current_model(tenant).recommend(stranger.pk, 5) == {}


def test_llmrec_fit_prints_the_fitted_weights(shop, tenant, capsys):
    from django.core.management import call_command

    call_command("llmrec_fit", "--only", "collaborative")
    assert "Collaborative model" in capsys.readouterr().out


# --- where the fit runs: LLMREC["COLLABORATIVE"] --------------------------------------------------


def collaborative_settings(settings, **options):
    settings.LLMREC = {**getattr(settings, "LLMREC", {}), "COLLABORATIVE": options}


def test_fitting_uses_every_core_by_default_and_the_setting_otherwise(settings, monkeypatch):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    assert collaborative.fitting_resources() == {"num_threads": 0, "use_gpu": False}
    collaborative_settings(settings, THREADS=3)
    assert collaborative.fitting_resources() == {"num_threads": 3, "use_gpu": False}


def test_the_gpu_is_chosen_when_implicit_finds_one_and_the_device_allows(settings, monkeypatch):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", True)
    assert collaborative.fitting_resources()["use_gpu"] is True, "DEVICE auto"
    collaborative_settings(settings, DEVICE="cpu")
    assert collaborative.fitting_resources()["use_gpu"] is False
    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    collaborative_settings(settings, DEVICE="cuda")
    with pytest.raises(RuntimeError, match="implicit finds none"):
        collaborative.fitting_resources()


def test_the_fit_hands_the_threads_and_the_device_to_als_and_item_knn(shop, tenant, settings, monkeypatch):
    import implicit.gpu

    from llmrec_django.core import baselines
    from tests.implicit_helpers import StandInGpuALS

    made = []

    class RecordingALS(baselines.ImplicitALS):
        def __init__(self, **options):
            made.append(("als", options["num_threads"], options["use_gpu"]))
            super().__init__(**options)

    class RecordingItemKNN(baselines.ItemKNN):
        def __init__(self, k, num_threads):
            made.append(("knn", num_threads))
            super().__init__(k=k, num_threads=num_threads)

    monkeypatch.setattr(collaborative, "ImplicitALS", RecordingALS)
    monkeypatch.setattr(collaborative, "ItemKNN", RecordingItemKNN)
    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", True)
    monkeypatch.setattr(implicit.gpu.als, "AlternatingLeastSquares", StandInGpuALS)
    StandInGpuALS.made = []
    collaborative_settings(settings, THREADS=2)
    items, users = shop
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=30)
    assert made == [("als", 2, True), ("knn", 2)]
    assert len(StandInGpuALS.made) == 1, "ALS went to implicit's GPU class"
    model = collaborative.current_model(tenant)
    assert next(iter(model.recommend(users[0].pk, 1, exclude={items[0].pk, items[1].pk}))) == items[2].pk


def test_the_collaborative_settings_are_checked(settings):
    from llmrec_django.conf.checks import check_collaborative_settings

    assert check_collaborative_settings() == []
    collaborative_settings(settings, THREADS=-1, DEVICE="gpu")
    errors = check_collaborative_settings()
    assert [e.id for e in errors] == ["llmrec.E023", "llmrec.E023"]
    assert "THREADS" in errors[0].msg and "DEVICE" in errors[1].msg
    collaborative_settings(settings, THREADS=True)
    assert [e.id for e in check_collaborative_settings()] == ["llmrec.E023"], "a bool is not a number of threads"
