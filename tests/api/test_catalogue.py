"""Items and knowledge-graph relations through the API, and the re-embedding they queue."""

import pytest
from rest_framework.test import APIClient

from llmrec_django import tasks
from llmrec_django.models import Entity, Item, Relation, UserProfile
from tests.api_helpers import API, account, api_key_client, logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(tenant):
    return api_key_client(tenant)[0]


@pytest.fixture
def embed_queue(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.embed_changed_items, "apply_async", lambda args, **options: queued.append(args[1]))
    return queued


def test_create_read_update_delete_an_item_queues_re_embedding(server, tenant, embed_queue,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    body = {"external_id": "boot-1", "title": "Ridge Boot", "category": "hiking boots", "attributes": {"price": 150}}
    with django_capture_on_commit_callbacks(execute=True):
        created = server.post(API + "items/", body, format="json")
    assert created.status_code == 201, created.json()
    item = Item.objects.get(tenant=tenant, external_id="boot-1")
    assert embed_queue == [[item.pk]], "the post-save signal fired through the API"
    assert server.get(API + "items/boot-1/").json()["attributes"] == {"price": 150}

    embed_queue.clear()
    with django_capture_on_commit_callbacks(execute=True):
        patched = server.patch(API + "items/boot-1/", {"description": "Waterproof leather."}, format="json")
    assert patched.status_code == 200 and patched.json()["description"] == "Waterproof leather."
    assert embed_queue == [[item.pk]]
    item.refresh_from_db()
    assert item.content_hash == item.compute_content_hash()

    assert server.delete(API + "items/boot-1/").status_code == 204
    assert not Item.objects.filter(pk=item.pk).exists()
    assert server.get(API + "items/boot-1/").status_code == 404


def test_item_validation(server, tenant):
    Item.objects.create(tenant=tenant, external_id="a", title="A")
    duplicate = server.post(API + "items/", {"external_id": "a", "title": "Again"}, format="json")
    assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]["message"]
    not_object = server.post(API + "items/", {"external_id": "b", "title": "B", "attributes": [1]}, format="json")
    assert not_object.status_code == 400 and not_object.json()["error"]["details"]["attributes"]
    missing = server.post(API + "items/", {"external_id": "c"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["details"]["title"]


def test_listing_is_public_paginated_and_filtered(tenant):
    for n in range(3):
        Item.objects.create(tenant=tenant, external_id=f"f{n}", title=f"Film {n}", category="films")
    Item.objects.create(tenant=tenant, external_id="s", title="Shoe", category="running shoes", is_active=False)
    anonymous = APIClient()
    page = anonymous.get(API + "items/", {"limit": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"], "drafts (inactive) are not public"
    films = anonymous.get(API + "items/", {"category": "FILMS"}).json()
    assert {i["external_id"] for i in films["results"]} == {"f0", "f1", "f2"}
    assert anonymous.get(API + "items/", {"is_active": "false"}).json()["results"] == []
    reader = api_key_client(tenant, scopes=["read"])[0]
    inactive = reader.get(API + "items/", {"is_active": "false"}).json()
    assert [i["external_id"] for i in inactive["results"]] == ["s"]


def test_only_staff_and_api_keys_change_the_catalogue(tenant):
    Item.objects.create(tenant=tenant, external_id="a", title="A")
    body = {"external_id": "b", "title": "B"}
    assert APIClient().post(API + "items/", body, format="json").status_code == 401
    assert logged_in(account("ann")).post(API + "items/", body, format="json").status_code == 403
    assert logged_in(account("ann2")).delete(API + "items/a/").status_code == 403
    assert logged_in(account("boss", staff=True)).post(API + "items/", body, format="json").status_code == 201


def test_relations_create_update_list_delete(server, tenant, embed_queue, django_capture_on_commit_callbacks):
    boot = Item.objects.create(tenant=tenant, external_id="boot", title="Ridge Boot")
    edge = {"head": {"type": "item", "id": "boot"}, "relation": "has_brand", "tail": {"type": "brand", "id": "Acme"}}
    with django_capture_on_commit_callbacks(execute=True):
        created = server.post(API + "relations/", edge, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["tail"] == {"type": "brand", "id": "Acme"} and created.json()["weight"] == 1.0
    assert Entity.objects.filter(tenant=tenant, entity_type="brand", name="Acme").exists()
    assert boot.pk in embed_queue[-1], "an item's text lists its edges: it is re-embedded"
    again = server.post(API + "relations/", {**edge, "weight": 2.0}, format="json")
    assert again.status_code == 200 and again.json()["weight"] == 2.0
    assert Relation.objects.count() == 1

    bought = {"head": {"type": "user", "id": "ann"}, "relation": "bought", "tail": {"type": "item", "id": "boot"}}
    assert server.post(API + "relations/", bought, format="json").status_code == 201
    assert UserProfile.objects.filter(tenant=tenant, external_id="ann").exists()
    listed = server.get(API + "relations/", {"relation": "bought"}).json()
    assert listed["count"] == 1 and listed["results"][0]["head"] == {"type": "user", "id": "ann"}

    relation_id = created.json()["id"]
    patched = server.patch(API + f"relations/{relation_id}/", {"weight": 0.5}, format="json")
    assert patched.status_code == 200 and patched.json()["weight"] == 0.5
    assert server.delete(API + f"relations/{relation_id}/").status_code == 204
    assert server.get(API + f"relations/{relation_id}/").status_code == 404


def test_relation_errors(server, tenant):
    unknown = {"head": {"type": "brand", "id": "Acme"}, "relation": "x", "tail": {"type": "item", "id": "ghost"}}
    response = server.post(API + "relations/", unknown, format="json")
    assert response.status_code == 400 and "ghost" in response.json()["error"]["message"]
    assert not Entity.objects.exists(), "nothing is created for a refused edge"
    incomplete = server.post(API + "relations/", {"relation": "x"}, format="json")
    assert incomplete.status_code == 400 and set(incomplete.json()["error"]["details"]) == {"head", "tail"}


def test_relations_are_not_public(tenant):
    assert APIClient().get(API + "relations/").status_code == 401
    assert logged_in(account("ann")).get(API + "relations/").status_code == 403


def test_staff_issue_api_keys_in_the_admin_and_the_secret_is_shown_once(admin_client, tenant):
    from django.contrib.messages import get_messages
    from django.urls import reverse

    from llmrec_django.models import ApiKey

    response = admin_client.post(
        reverse("admin:llmrec_django_apikey_add"),
        {"tenant": tenant.pk, "name": "shop backend", "is_active": "on", "scopes": ["read", "events"]},
    )
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request) if str(m).startswith("API key for")]
    raw_key = message.split(": ", 1)[1].split(" ")[0]
    key = ApiKey.objects.get()
    assert ApiKey.find(raw_key) == key and raw_key not in key.key_hash and key.scopes == ["read", "events"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert client.get(API + "relations/").status_code == 200
    assert admin_client.get(reverse("admin:llmrec_django_conversationsession_changelist")).status_code == 200
