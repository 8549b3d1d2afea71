"""External ids may hold slashes (``shoes/trail-42``, ``crm/7/ann``): every call that names an id
in its path reaches it, and the shop's pages link to such items."""

import pytest
from django.utils import timezone

from llmrec_django.models import Interaction, UserProfile
from tests.api_helpers import API, api_key_client, keyword_encoder_settings
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db

USER = "crm/7/ann"


@pytest.fixture
def slashed(tenant, settings):
    keyword_encoder_settings(settings)
    settings.LLMREC = {**settings.LLMREC, "ONLINE": {**settings.LLMREC.get("ONLINE", {}), "LOG_WRITES": "off"}}
    items = [
        make_item(tenant, "shoes/trail-42", "Trail Running Shoe", category="running shoes", vector=[0, 0, 0, 1]),
        make_item(tenant, "shoes/road-7", "Road Running Shoe", category="running shoes", vector=[0, 0.1, 0, 0.95]),
        make_item(tenant, "shoes", "Running Socks", category="running shoes", vector=[0, 0.2, 0, 0.9]),
        make_item(tenant, "films/space/ship", "Lantern Ship", vector=[1, 0, 0, 0]),
    ]
    ann = UserProfile.objects.create(tenant=tenant, external_id=USER)
    namesake = UserProfile.objects.create(tenant=tenant, external_id="crm/7")  # a prefix of Ann's id
    Interaction.objects.create(
        tenant=tenant, event_id="e1", user=ann, item=items[0], event_type="purchase", timestamp=timezone.now()
    )
    activate(tenant, items, users=[(ann, [0, 0, 0, 1]), (namesake, [1, 0, 0, 0])])
    client, _ = api_key_client(tenant)
    return client, ann, namesake


def test_an_item_with_slashes_is_read_and_its_similar_items_listed(slashed):
    client, _, _ = slashed
    response = client.get(API + "items/shoes/trail-42/")
    assert response.status_code == 200 and response.json()["external_id"] == "shoes/trail-42"
    assert client.get(API + "items/shoes/").json()["external_id"] == "shoes"  # the prefix is an item of its own
    similar = client.get(API + "items/shoes/trail-42/similar/")
    assert similar.status_code == 200
    ids = [item["external_id"] for item in similar.json()["items"]]
    assert "shoes/road-7" in ids and "shoes/trail-42" not in ids
    assert client.get(API + "items/films/space/ship/similar/").status_code == 200


def test_a_user_with_slashes_is_read_listed_exported_and_erased(slashed, tenant, django_capture_on_commit_callbacks):
    client, ann, namesake = slashed
    assert client.get(API + f"users/{USER}/").json()["external_id"] == USER
    assert client.get(API + "users/crm/7/").json()["external_id"] == "crm/7"
    assert client.get(API + f"users/{USER}/profile/").status_code == 200
    recommendations = client.get(API + f"users/{USER}/recommendations/")
    assert recommendations.status_code == 200 and recommendations.json()["items"]
    exported = client.get(API + f"users/{USER}/export/")
    assert exported.status_code == 200
    assert exported.json()["profile"]["external_id"] == USER
    assert [e["event_id"] for e in exported.json()["events"]] == ["e1"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(API + f"users/{USER}/").status_code == 204
    assert not UserProfile.objects.filter(pk=ann.pk).exists()
    assert UserProfile.objects.filter(pk=namesake.pk).exists()  # the prefix's owner is untouched
    assert client.get(API + f"users/{USER}/").status_code == 404


def test_the_shop_lists_and_opens_items_with_slashes(slashed, client):
    catalogue = client.get("/")
    assert catalogue.status_code == 200
    assert b'href="/items/shoes/trail-42/"' in catalogue.content
    page = client.get("/items/shoes/trail-42/")
    assert page.status_code == 200 and b"Trail Running Shoe" in page.content
    assert client.get("/items/shoes/nothing-here/").status_code == 404
