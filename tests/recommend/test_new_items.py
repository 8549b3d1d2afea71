"""The new-item pool: the newest active items nobody had interacted with when the collaborative
model was fitted, with their vectors."""

import pytest

from llmrec_django.catalogue import collaborative
from llmrec_django.database import caches, vectorstore
from llmrec_django.models import Interaction, UserProfile
from llmrec_django.recommend import new_items
from llmrec_django.recommend.state import serving_state
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tenant):
    """Two items a fan bought (known to the model), one she rated poorly (seen, though the model
    does not know it), then three nobody touched, the last one inactive, and one without a
    vector yet."""
    items = {
        key: make_item(tenant, key, key.title(), vector=vector)
        for key, vector in [
            ("bought1", [1, 0, 0, 0]),
            ("bought2", [0, 1, 0, 0]),
            ("panned", [0, 1, 1, 0]),
            ("new1", [0, 0, 1, 0]),
            ("new2", [0, 0, 0, 1]),
            ("hidden", [1, 1, 0, 0]),
        ]
    }
    items["hidden"].is_active = False
    items["hidden"].save()
    unembedded = make_item(tenant, "unembedded", "Unembedded")
    fan = UserProfile.objects.create(tenant=tenant, external_id="fan")
    for key in ("bought1", "bought2"):
        Interaction.objects.create(tenant=tenant, event_id=key, user=fan, item=items[key], event_type="purchase")
    Interaction.objects.create(
        tenant=tenant, event_id="panned", user=fan, item=items["panned"], event_type="rating", value=1.0
    )
    version = activate(tenant, list(items.values()))
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=5)
    return {**items, "unembedded": unembedded}, version


def current_pool(tenant, version):
    return new_items.pool_for(tenant.pk, version, serving_state(tenant.pk).collaborative[0])


def test_the_pool_holds_active_unseen_items_with_vectors_newest_first(catalogue, tenant, settings):
    items, version = catalogue
    model = collaborative.current_model(tenant)
    assert not model.knows_items([items["panned"].pk])[0], "poor ratings teach the model nothing ..."
    pool = current_pool(tenant, version)
    assert pool.item_ids.tolist() == [items["new2"].pk, items["new1"].pk], "... but the item was seen"
    assert items["new1"].pk in pool and items["panned"].pk not in pool
    assert pool.vectors.tolist() == [[0, 0, 0, 1], [0, 0, 1, 0]], "unit rows, in the same order"
    settings.LLMREC = {"NEW_ITEM_POOL_SIZE": 1}
    caches.clear_all()
    assert current_pool(tenant, version).item_ids.tolist() == [items["new2"].pk]


def test_an_item_stays_new_until_the_model_is_fitted_on_its_interactions(catalogue, tenant):
    items, version = catalogue
    first = current_pool(tenant, version)
    fan = UserProfile.objects.get(external_id="fan")
    Interaction.objects.create(tenant=tenant, event_id="n2", user=fan, item=items["new2"], event_type="purchase")
    record = serving_state(tenant.pk).collaborative[0]
    assert items["new2"].pk in new_items.load_pool(tenant.pk, version, record), "bought after the fit: still new"
    assert current_pool(tenant, version) is first, "and the pool is kept while the model is the same"
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=5)
    pool = current_pool(tenant, version)
    assert pool.model_id == serving_state(tenant.pk).collaborative[0] != first.model_id
    assert pool.item_ids.tolist() == [items["new1"].pk]


def test_another_versions_pool_is_read_for_the_request_and_not_kept(catalogue, tenant):
    items, active = catalogue
    other = vectorstore.create_version(tenant, model_name="other", model_path="/other", dimension=4)
    vectorstore.write_item_vectors(other, [items["new1"].pk], [[0, 0, 3, 4]], ["h"])
    pool = new_items.pool_for(tenant.pk, other, serving_state(tenant.pk).collaborative[0])
    assert pool.version_id == other.pk and pool.item_ids.tolist() == [items["new1"].pk]
    assert pool.vectors[0].tolist() == pytest.approx([0, 0, 0.6, 0.8])
    assert current_pool(tenant, active).version_id == active.pk


def test_candidates_are_the_closest_new_items_to_what_the_user_liked(catalogue, tenant, settings):
    items, version = catalogue
    pool = current_pool(tenant, version)
    liked = {items["bought1"].pk: [0, 0.1, 1, 0]}  # a liked item close to "new1"
    settings.LLMREC = {"NEW_ITEM_MIN_SIMILARITY": 0.0}
    assert list(new_items.candidates(pool, liked, set(), 2)) == [items["new1"].pk, items["new2"].pk]
    assert list(new_items.candidates(pool, liked, {items["new1"].pk}, 2)) == [items["new2"].pk]
    settings.LLMREC = {"NEW_ITEM_MIN_SIMILARITY": 0.5}
    assert new_items.candidates(pool, liked, set(), 2) == {items["new1"].pk: pytest.approx(0.995, abs=1e-3)}
    assert new_items.candidates(pool, {}, set(), 2) == {}
