"""Recommendations, similar items and search through the API."""

import pytest
from rest_framework.test import APIClient

from llmrec_django.models import BusinessRule, UserProfile
from tests.api_helpers import (
    API,
    ann_catalogue,
    api_key_client,
    logged_in,
)
from tests.recommend_helpers import activate

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant, settings):
    """Ann (a logged-in account) bought "Lantern Ship"; her vector points at it."""
    items, ann, profile = ann_catalogue(tenant, settings)
    version = activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    return items, ann, version


def test_a_user_gets_their_recommendations_with_sources_and_explanations(world):
    items, ann, version = world
    response = logged_in(ann).get(API + "users/ann/recommendations/", {"k": 3})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["source"] == "hybrid" and body["version_id"] == version.pk and body["reason"] is None
    first = body["items"][0]
    assert first["external_id"] == "harbour"
    assert "vector" in first["sources"] and first["explanation"] == 'Similar to "Lantern Ship" you bought'
    assert isinstance(first["score"], float)
    assert "ship" not in [i["external_id"] for i in body["items"]]
    assert response["Cache-Control"] == "private, no-store"  # each list has its own list_id
    assert response["Vary"] == "Cookie, Authorization, X-LLMRec-Tenant"


def test_a_list_served_again_from_the_list_cache_says_so_in_server_timing(world):
    _, ann, _ = world
    first, second = (logged_in(ann).get(API + "users/ann/recommendations/", {"k": 3}) for _ in range(2))
    assert first["Server-Timing"].startswith("history;dur=") and "total;dur=" in first["Server-Timing"]
    assert second["Server-Timing"].startswith("list_cache;dur=")
    assert [i["external_id"] for i in second.json()["items"]] == [i["external_id"] for i in first.json()["items"]]
    assert second.json()["list_id"] != first.json()["list_id"]
    assert second["Cache-Control"] == "private, no-store"


def test_context_query_parameters_reach_the_business_rules(world, tenant):
    items, ann, _ = world
    BusinessRule.objects.create(tenant=tenant, kind="pin", item=items["shoe"], position=0, device="mobile")
    client = logged_in(ann)
    on_phone = client.get(API + "users/ann/recommendations/", {"device": "mobile", "time_of_day": "evening"}).json()
    assert on_phone["items"][0]["external_id"] == "shoe" and "rule:pin" in on_phone["items"][0]["sources"]
    on_desktop = client.get(API + "users/ann/recommendations/", {"device": "desktop"}).json()
    assert on_desktop["items"][0]["external_id"] != "shoe"


def test_category_filter_and_fallback_reason(world, tenant):
    _, ann, _ = world
    body = logged_in(ann).get(API + "users/ann/recommendations/", {"category": "running shoes"}).json()
    assert [i["external_id"] for i in body["items"]] == ["shoe"]
    UserProfile.objects.create(tenant=tenant, external_id="newbie")
    server, _ = api_key_client(tenant)
    fallback = server.get(API + "users/newbie/recommendations/").json()
    assert fallback["source"] == "fallback:popularity"
    assert fallback["reason"] == "no interest vector for this user yet"


@pytest.mark.parametrize(
    ("k", "status", "length"),
    [("2", 200, 2), ("4", 200, 4), ("5", 400, None), ("100000000000000000000000", 400, None), ("0", 400, None),
     ("-3", 400, None), ("ten", 400, None)],
)  # fmt: skip
def test_k_is_from_1_to_max_k_or_refused_never_a_500(world, settings, k, status, length):
    _, ann, _ = world
    settings.LLMREC = {**settings.LLMREC, "MAX_K": 4}
    response = logged_in(ann).get(API + "users/ann/recommendations/", {"k": k})
    assert response.status_code == status
    if length is not None:
        assert len(response.json()["items"]) == length == response.json()["k"]
    else:
        assert response.json()["error"]["details"]["k"]


def test_bad_time_of_day_is_a_400(world):
    _, ann, _ = world
    response = logged_in(ann).get(API + "users/ann/recommendations/", {"time_of_day": "teatime"})
    assert response.status_code == 400 and "time_of_day" in response.json()["error"]["message"]


def test_unknown_user_and_item_are_404_for_trusted_callers(world, tenant):
    server, _ = api_key_client(tenant)
    missing_user = server.get(API + "users/nobody/recommendations/")
    assert missing_user.status_code == 404 and "nobody" in missing_user.json()["error"]["message"]
    missing_item = server.get(API + "items/nothing/similar/")
    assert missing_item.status_code == 404 and missing_item.json()["error"]["code"] == "not_found"


def test_similar_items_are_public(world):
    response = APIClient().get(API + "items/ship/similar/", {"k": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "similar" and body["items"][0]["external_id"] == "harbour"
    assert body["items"][0]["explanation"] == 'Similar to "Lantern Ship"'
    assert response["Cache-Control"] == "private, no-store"  # public, but a served list with its own list_id


def test_similar_items_for_a_user_leave_out_what_they_bought(world):
    _, ann, _ = world
    body = logged_in(ann).get(API + "items/harbour/similar/", {"user": "ann"}).json()
    assert "ship" not in [i["external_id"] for i in body["items"]]


def test_search_by_get_and_post_with_parsed_query(world):
    anonymous = APIClient()
    response = anonymous.get(API + "search/", {"q": "space ship", "k": 2})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["source"] == "search" and body["items"][0]["external_id"] == "ship"
    assert body["items"][0]["explanation"] == 'Matches "space ship"'
    posted = anonymous.post(API + "search/", {"q": "trail running shoes under $50"}, format="json").json()
    assert posted["query"]["category"] == "running shoes" and posted["query"]["max_price"] == 50.0
    assert [i["external_id"] for i in posted["items"]] == ["shoe"]


def test_search_is_personalised_for_the_logged_in_user(world):
    _, ann, _ = world
    client = logged_in(ann)
    response = client.get(API + "search/", {"q": "gentle"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert UserProfile.objects.get(external_id="ann").recent_queries == [], (
        "a GET (a link anyone can plant) changes nothing"
    )
    assert client.post(API + "search/", {"q": "gentle"}, format="json").status_code == 200
    assert UserProfile.objects.get(external_id="ann").recent_queries == ["gentle"]


def test_search_needs_a_query(world):
    response = APIClient().get(API + "search/")
    assert response.status_code == 400 and response.json()["error"]["details"]["q"]
