"""Least privilege: staff act through the API with their Django permissions, in the tenants they
work on; API keys with their scopes, until they expire. A matrix of role x endpoint x tenant, in
which every call outside a grant is refused and leaks nothing."""

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from llmrec_django.models import ApiKey, Experiment, Interaction, Item, Tenant, UserProfile
from tests.api_helpers import API, account, api_key_client, logged_in, profile_of

pytestmark = pytest.mark.django_db

SECRET = "ann-private-marker"


@pytest.fixture
def world(tenant):
    Item.objects.create(tenant=tenant, external_id="film-1", title="Film 1")
    ann = UserProfile.objects.create(tenant=tenant, external_id="ann", profile_text=SECRET)
    Interaction.objects.create(tenant=tenant, event_id="e1", user=ann, item=Item.objects.get(), event_type="view")
    Experiment.objects.create(tenant=tenant, name="trial")
    other = Tenant.objects.create(slug="other-shop")
    Item.objects.create(tenant=other, external_id="secret-item", title=SECRET)
    return other


_names = itertools.count()


def staff_with(*codenames, tenants=()):
    """A staff account with just these permissions of the app, working on ``tenants`` too."""
    user = account(f"staff-{next(_names)}", staff=True, permissions=False)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="llmrec_django", codename__in=codenames)
    )
    for tenant in tenants:
        tenant.staff.add(user)
    return logged_in(user)


# (what, method, path, body): each needs one grant
CALLS = {
    "read user": ("GET", "users/ann/", None),
    "user's list": ("GET", "users/ann/recommendations/", None),
    "export user": ("GET", "users/ann/export/", None),
    "erase user": ("DELETE", "users/ann/", None),
    "change profile": ("PATCH", "users/ann/profile/", {"profile_text": "hacked"}),
    "event for ann": (
        "POST",
        "events/",
        {"event_id": "x", "user_id": "ann", "item_id": "film-1", "event_type": "view"},
    ),
    "write item": ("POST", "items/", {"external_id": "new", "title": "New"}),
    "read relations": ("GET", "relations/", None),
    "reports": ("GET", "experiments/", None),
}
# Who may make which call (everyone else is refused).
ALLOWED = {
    "staff, no permission": set(),
    "staff, view profiles": {"read user", "user's list"},
    "staff, privacy": {"read user", "user's list", "export user", "erase user"},
    "staff, items": {"write item"},
    "key: read": {"read user", "user's list", "read relations", "reports"},
    "key: events": {"event for ann", "change profile"},
    "key: catalogue": {"write item"},
    "key: privacy": {"export user", "erase user"},
    "key: every scope, expired": set(),
}


def client_for(role, tenant):
    if role == "staff, no permission":
        return staff_with()
    if role == "staff, view profiles":
        return staff_with("view_userprofile")
    if role == "staff, privacy":
        return staff_with("view_userprofile", "delete_userprofile", "export_userprofile")
    if role == "staff, items":
        return staff_with("add_item")
    if role == "key: every scope, expired":
        return api_key_client(tenant, expires_at=timezone.now() - timedelta(seconds=1))[0]
    return api_key_client(tenant, scopes=[role.removeprefix("key: ")])[0]


@pytest.mark.parametrize("role", list(ALLOWED))
def test_every_role_gets_exactly_its_grants(world, tenant, role):
    client = client_for(role, tenant)
    leaks = []
    for what, (method, path, body) in CALLS.items():
        response = getattr(client, method.lower())(API + path, body, format="json")
        allowed = what in ALLOWED[role]
        if allowed:
            assert response.status_code < 300, (role, what, response.status_code, response.content[:300])
        else:
            assert response.status_code in (401, 403, 404), (role, what, response.status_code)
            if SECRET in response.content.decode(errors="replace"):
                leaks.append(what)
            if response.status_code == 403:
                assert "needs" in response.json()["error"]["message"], (role, what)
    assert leaks == []
    if "erase user" not in ALLOWED[role]:
        assert UserProfile.objects.filter(external_id="ann").exists(), role


def test_staff_work_only_on_the_tenants_that_list_them(world, tenant):
    other = world
    stranger = staff_with("view_item")
    refused = stranger.get(API + "items/", HTTP_X_LLMREC_TENANT="other-shop")
    assert refused.status_code == 403 and SECRET not in refused.content.decode()
    member = staff_with("view_item", tenants=[other])
    listed = member.get(API + "items/", HTTP_X_LLMREC_TENANT="other-shop")
    assert listed.status_code == 200 and listed.json()["results"][0]["external_id"] == "secret-item"
    assert stranger.get(API + "items/").status_code == 200, "every staff member works on the default tenant"
    boss = account("root", staff=True)
    boss.is_superuser = True
    boss.save()
    assert logged_in(boss).get(API + "items/", HTTP_X_LLMREC_TENANT="other-shop").status_code == 200


def test_a_key_is_refused_once_it_expires_and_new_keys_start_with_read_and_events(world, tenant):
    client, key = api_key_client(tenant, expires_at=timezone.now() + timedelta(hours=1))
    assert client.get(API + "users/ann/").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    from llmrec_django.api import authentication

    authentication.forget_keys()
    assert client.get(API + "users/ann/").status_code == 401
    fresh, _ = ApiKey.issue(tenant, "new")
    assert fresh.scopes == ["read", "events"]


def test_a_user_still_reaches_their_own_data_without_any_permission(world, tenant):
    ann = account("ann-account")
    profile_of(tenant, ann, "ann-own")
    client = logged_in(ann)
    assert client.get(API + "users/ann-own/").status_code == 200
    assert client.get(API + "users/ann-own/export/").status_code == 200
    assert client.get(API + "users/ann/").status_code == 404, "another user's: not found, as before"


def test_another_users_conversation_is_not_found_without_naming_its_owner(world, tenant):
    from llmrec_django.models import ConversationSession

    session = ConversationSession.objects.create(tenant=tenant, user=UserProfile.objects.get(external_id="ann"))
    bob = account("bob-account")
    profile_of(tenant, bob, "bob")
    for path in (f"conversations/{session.pk}/", f"conversations/{session.pk + 1000}/"):
        response = logged_in(bob).get(API + path)
        assert response.status_code == 404 and "ann" not in response.content.decode()
    theirs = logged_in(bob).get(API + f"conversations/{session.pk}/").json()["error"]["message"]
    nobodys = logged_in(bob).get(API + f"conversations/{session.pk + 1000}/").json()["error"]["message"]
    assert theirs.replace(str(session.pk), "N") == nobodys.replace(str(session.pk + 1000), "N"), "indistinguishable"


def test_draft_items_are_read_only_by_callers_who_may_read_the_whole_catalogue(world, tenant):
    from rest_framework.test import APIClient

    Item.objects.create(tenant=tenant, external_id="draft", title="Draft", is_active=False)
    anonymous = APIClient()
    assert "draft" not in [i["external_id"] for i in anonymous.get(API + "items/").json()["results"]]
    assert anonymous.get(API + "items/draft/").status_code == 404
    reader = api_key_client(tenant, scopes=["read"])[0]
    assert reader.get(API + "items/draft/").status_code == 200
    assert staff_with("view_item").get(API + "items/draft/").status_code == 200
