"""Export and erasure of a user's data through the API."""

import numpy as np
import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from llmrec_django import tasks
from llmrec_django.catalogue import collaborative
from llmrec_django.database import artifacts, outbox
from llmrec_django.models import (
    CollaborativeModel,
    ConversationSession,
    Entity,
    Interaction,
    Item,
    PendingWork,
    Relation,
    UserProfile,
)
from tests.api_helpers import API, account, api_key_client, keyword_encoder_settings, logged_in, profile_of
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann_with_data(tenant, settings):
    keyword_encoder_settings(settings)
    items = [make_item(tenant, f"f{n}", f"Film {n}", vector=[1, n, 0, 0]) for n in range(3)]
    ann = account("ann")
    profile = profile_of(tenant, ann, "ann")
    profile.recent_queries = ["space ship"]
    profile.save()
    bob = UserProfile.objects.create(tenant=tenant, external_id="bob")
    for n, item in enumerate(items):
        Interaction.objects.create(tenant=tenant, event_id=f"a{n}", user=profile, item=item, event_type="click",
                                   timestamp=timezone.now())  # fmt: skip
        Interaction.objects.create(tenant=tenant, event_id=f"b{n}", user=bob, item=item, event_type="click")
    activate(tenant, items, users=[(profile, [1, 0, 0, 0]), (bob, [0, 1, 0, 0])])
    Relation.objects.create(tenant=tenant, head_user=profile, relation="bought", tail_item=items[0])
    Relation.objects.create(tenant=tenant, head_user=bob, relation="follows", tail_user=profile)
    brand = Entity.objects.create(tenant=tenant, entity_type="brand", name="Acme")
    Relation.objects.create(tenant=tenant, head_item=items[0], relation="has_brand", tail_entity=brand)
    client = logged_in(ann)
    session = client.post(API + "conversations/", {"message": "space"}, format="json").json()["session"]["id"]
    client.post(API + f"conversations/{session}/feedback/", {"liked": ["f1"]}, format="json")
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=2)
    return ann, profile, bob, items


def rows_naming(profile_pk: int) -> dict[str, int]:
    """Rows of every llmrec_django table with a foreign key to UserProfile that point at it."""
    found = {}
    for model in apps.get_app_config("llmrec_django").get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is UserProfile:
                count = model.objects.filter(**{field.name: profile_pk}).count()
                if count:
                    found[f"{model.__name__}.{field.name}"] = count
    return found


def test_a_user_exports_their_own_data(ann_with_data):
    ann, profile, _, _ = ann_with_data
    response = logged_in(ann).get(API + "users/ann/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    document = response.json()
    assert document["format"] == "llmrec-user-export/1" and document["profile"]["external_id"] == "ann"
    assert document["profile"]["recent_queries"] == ["space ship"]
    assert sorted(e["event_id"] for e in document["events"] if e["event_type"] == "click") == ["a0", "a1", "a2"]
    assert any(e["event_type"] == "like" and e["item_id"] == "f1" for e in document["events"])
    assert {(r["head"]["id"], r["relation"], r["tail"]["id"]) for r in document["relations"]} == {
        ("ann", "bought", "f0"),
        ("bob", "follows", "ann"),
    }
    [conversation] = document["conversations"]
    assert [t["kind"] for t in conversation["turns"]] == ["start", "feedback"]
    assert document["interest_vectors"]


def test_erasure_leaves_no_row_naming_the_user_and_a_second_erasure_is_a_404(
    ann_with_data, tenant, django_capture_on_commit_callbacks
):
    ann, profile, bob, items = ann_with_data
    assert rows_naming(profile.pk)  # the fixture really stored things about Ann
    model_before = CollaborativeModel.objects.get(tenant=tenant)
    with np.load(artifacts.local_path(model_before.path)) as stored:
        assert profile.pk in stored["user_ids"]
    # Work waiting in the outbox names users in its arguments: Ann's part of it goes too.
    outbox.enqueue(
        tenant.pk, tasks.refresh_user_vectors, [(tenant.pk, [profile.pk, bob.pk]), (tenant.pk, [profile.pk])]
    )
    client = logged_in(ann)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(API + "users/ann/")
    assert response.status_code == 204
    assert [args for args in PendingWork.objects.values_list("args", flat=True) if profile.pk in args[1]] == []
    assert rows_naming(profile.pk) == {}
    assert not UserProfile.objects.filter(pk=profile.pk).exists()
    assert not ConversationSession.objects.exists()
    assert not Interaction.objects.filter(event_id__startswith="a").exists()
    # Bob's data and the catalogue stay.
    assert Interaction.objects.filter(user=bob).count() == 3 and Item.objects.count() == 3
    assert Relation.objects.filter(relation="has_brand").exists()
    # The collaborative model no longer holds Ann's factors.
    model_after = CollaborativeModel.objects.get(tenant=tenant)
    with np.load(artifacts.local_path(model_after.path)) as stored:
        assert profile.pk not in stored["user_ids"] and bob.pk in stored["user_ids"]
        assert len(stored["user_factors"]) == len(stored["user_ids"])
    # Erasing again is a 404, for staff and for Ann alike.
    server, _ = api_key_client(tenant)
    assert server.delete(API + "users/ann/").status_code == 404
    assert client.delete(API + "users/ann/").status_code == 404


def test_others_cannot_export_or_erase_a_user(ann_with_data, tenant):
    bob_account = account("bob-account")
    profile_of(tenant, bob_account, "bob2")
    other = logged_in(bob_account)
    assert other.get(API + "users/ann/export/").status_code == 404
    assert other.delete(API + "users/ann/").status_code == 404
    assert UserProfile.objects.filter(external_id="ann").exists()
    staff = logged_in(account("boss", staff=True))
    assert staff.get(API + "users/ann/export/").status_code == 200
