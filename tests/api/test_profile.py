"""The interest profile through the API: ``me/profile/`` for the logged-in user, and
``users/{id}/profile/`` for staff and API keys (and the user themselves)."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from llmrec_django.database import caches
from llmrec_django.models import Interaction, UserProfile, UserVector
from llmrec_django.recommend.lists import PERSONALISATION_OFF
from tests.api_helpers import API, account, ann_catalogue, api_key_client, logged_in, profile_of
from tests.recommend_helpers import activate, link

pytestmark = pytest.mark.django_db

FIELDS = {
    "external_id",
    "profile_text",
    "profile_text_source",
    "generated_text",
    "personalisation_enabled",
    "profile_generated_at",
    "updated_at",
}


@pytest.fixture
def ann_shop(tenant, settings):
    """Ann (an account) bought "Lantern Ship", a science-fiction film; she has an interest vector."""
    cache.clear()
    caches.clear_all()
    items, ann, profile = ann_catalogue(tenant, settings)
    link(tenant, items["ship"], "has_genre", "genre", "science fiction")
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    yield items, ann, profile
    caches.clear_all()


def test_the_user_reads_their_profile_with_what_the_system_would_write(ann_shop):
    _, ann, _ = ann_shop
    response = logged_in(ann).get(API + "me/profile/")
    assert response.status_code == 200 and response["Cache-Control"] == "private"
    body = response.json()
    assert set(body) == FIELDS
    assert body["external_id"] == "ann" and body["profile_text_source"] == "generated"
    assert body["generated_text"] == "Likes films (genre: science fiction)."
    assert body["personalisation_enabled"] is True


def test_the_user_edits_resets_and_switches_personalisation(ann_shop, django_capture_on_commit_callbacks):
    _, ann, profile = ann_shop
    client = logged_in(ann)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.patch(API + "me/profile/", {"profile_text": "Slow thrillers"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["profile_text"] == "Slow thrillers" and response.json()["profile_text_source"] == "user"
    assert callbacks, "the edit queues the vector refresh"

    response = client.patch(API + "me/profile/", {"reset": True}, format="json")
    assert response.json()["profile_text"] == "Likes films (genre: science fiction)."
    assert response.json()["profile_text_source"] == "generated"

    response = client.patch(API + "me/profile/", {"personalisation_enabled": False}, format="json")
    assert response.json()["personalisation_enabled"] is False
    assert not UserVector.objects.filter(user=profile).exists()
    listed = client.get(API + "users/ann/recommendations/").json()
    assert listed["source"] == "fallback:popularity" and listed["reason"] == PERSONALISATION_OFF


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"profile_text": "x" * 1001}, "profile_text", "at most 1000 characters"),
        ({"profile_text": "a\u0000b"}, None, "NUL"),
        ({"profile_text": "tea", "reset": True}, "non_field_errors", "not both"),
        ({}, "non_field_errors", "Give profile_text, reset or personalisation_enabled"),
        ({"personalisation_enabled": "perhaps"}, "personalisation_enabled", "valid boolean"),
        ({"profile_text": ["a list"]}, "profile_text", "Not a valid string"),
    ],
)
def test_bad_changes_are_a_json_400_and_change_nothing(ann_shop, body, field, message):
    _, ann, profile = ann_shop
    response = logged_in(ann).patch(API + "me/profile/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    text = str(error["details"].get(field) if field else error)
    assert message in text, error
    profile.refresh_from_db()
    assert (profile.profile_text, profile.personalisation_enabled) == ("", True)
    assert logged_in(ann).get(API + "me/profile/").json()["profile_text_source"] == "generated"


def test_another_users_profile_is_out_of_reach(ann_shop, tenant):
    _, ann, _ = ann_shop
    profile_of(tenant, account("bob"), "bob")
    client = logged_in(ann)
    assert client.get(API + "users/bob/profile/").status_code == 404
    response = client.patch(API + "users/bob/profile/", {"profile_text": "mine now"}, format="json")
    assert response.status_code == 404
    assert UserProfile.objects.get(external_id="bob").profile_text == ""
    assert client.patch(API + "users/ann/profile/", {"profile_text": "mine"}, format="json").status_code == 200


def test_staff_and_api_keys_use_the_users_endpoint(ann_shop, tenant):
    key_client, _ = api_key_client(tenant)
    response = key_client.patch(API + "users/ann/profile/", {"personalisation_enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["personalisation_enabled"] is False
    assert key_client.get(API + "me/profile/").status_code == 404  # a key has no profile of its own
    staff = logged_in(account("boss", staff=True))
    assert staff.get(API + "users/ann/profile/").json()["personalisation_enabled"] is False
    assert APIClient().get(API + "me/profile/").status_code == 401


def test_a_new_account_gets_a_profile_on_its_first_change(tenant, settings):
    newbie = account("newbie")
    client = logged_in(newbie)
    assert client.get(API + "me/profile/").status_code == 404
    response = client.patch(API + "me/profile/", {"profile_text": "green tea"}, format="json")
    assert response.status_code == 200 and response.json()["external_id"] == f"account-{newbie.pk}"
    assert client.get(API + "me/profile/").json()["profile_text"] == "green tea"
    assert not Interaction.objects.exists()
