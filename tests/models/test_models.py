"""The data model: tenants, items, users, idempotent interactions, the knowledge graph."""

import pytest
from django.db import IntegrityError, transaction

from llmrec_django.models import (
    EmbeddingVersion,
    Entity,
    Interaction,
    Item,
    Relation,
    Tenant,
    UserProfile,
    item_content_hash,
)

pytestmark = pytest.mark.django_db


def make_item(tenant, external_id="sku-1", **fields):
    defaults = {"title": "Trail shoe", "description": "Grippy", "category": "running shoes"}
    return Item.objects.create(tenant=tenant, external_id=external_id, **{**defaults, **fields})


def test_default_tenant_exists_after_migrate():
    assert Tenant.objects.filter(slug="default").exists()


def test_item_content_hash_follows_the_text_fields(tenant):
    item = make_item(tenant, attributes={"brand": "Kestrel"})
    first = item.content_hash
    assert first == item_content_hash("Trail shoe", "Grippy", "running shoes", {"brand": "Kestrel"})

    item.is_active = False
    item.save()
    assert item.content_hash == first, "a flag that is not item text does not change the hash"

    item.description = "Grippy and light"
    item.save(update_fields=["description"])
    item.refresh_from_db()
    assert item.content_hash != first


def test_attribute_order_does_not_change_the_hash():
    assert item_content_hash("t", "d", "c", {"a": 1, "b": 2}) == item_content_hash("t", "d", "c", {"b": 2, "a": 1})


def test_external_ids_are_unique_per_tenant_only(tenant, other_tenant):
    make_item(tenant)
    make_item(other_tenant)  # same external id, other catalogue: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        make_item(tenant)


def test_users_work_without_django_accounts(tenant, django_user_model):
    anonymous_shopper = UserProfile.objects.create(tenant=tenant, external_id="cookie-42", profile_text="likes tea")
    assert anonymous_shopper.user is None
    account = django_user_model.objects.create_user("ann")
    linked = UserProfile.objects.create(tenant=tenant, external_id="ann", user=account)
    assert account.llmrec_profiles.get() == linked


def test_a_repeated_event_id_is_stored_once(tenant):
    user = UserProfile.objects.create(tenant=tenant, external_id="u1")
    item = make_item(tenant)
    Interaction.objects.create(tenant=tenant, event_id="e-1", user=user, item=item, event_type="click")
    with pytest.raises(IntegrityError), transaction.atomic():
        Interaction.objects.create(tenant=tenant, event_id="e-1", user=user, item=item, event_type="purchase")
    created = Interaction.objects.bulk_create(
        [Interaction(tenant=tenant, event_id="e-1", user=user, item=item, event_type="view")], ignore_conflicts=True
    )
    assert len(created) == 1
    assert Interaction.objects.for_tenant(tenant).get().event_type == "click"


def test_relations_link_items_entities_and_users(tenant):
    item = make_item(tenant)
    brand = Entity.objects.create(tenant=tenant, entity_type="brand", name="Kestrel")
    user = UserProfile.objects.create(tenant=tenant, external_id="u1")
    has_brand = Relation.objects.create(tenant=tenant, head_item=item, relation="has_brand", tail_entity=brand)
    bought = Relation.objects.create(tenant=tenant, head_user=user, relation="bought", tail_item=item, weight=2.0)
    assert has_brand.head == item and has_brand.tail == brand
    assert str(bought) == "u1 -bought-> Trail shoe"


def test_a_relation_end_is_exactly_one_node(tenant):
    item = make_item(tenant)
    brand = Entity.objects.create(tenant=tenant, entity_type="brand", name="Kestrel")
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(tenant=tenant, head_item=item, head_entity=brand, relation="x", tail_entity=brand)
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(tenant=tenant, relation="x", tail_entity=brand)


def test_an_edge_is_stored_once(tenant):
    item = make_item(tenant)
    brand = Entity.objects.create(tenant=tenant, entity_type="brand", name="Kestrel")
    Relation.objects.create(tenant=tenant, head_item=item, relation="has_brand", tail_entity=brand)
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(tenant=tenant, head_item=item, relation="has_brand", tail_entity=brand, weight=0.5)


def test_deleting_a_node_removes_its_edges(tenant):
    item = make_item(tenant)
    brand = Entity.objects.create(tenant=tenant, entity_type="brand", name="Kestrel")
    Relation.objects.create(tenant=tenant, head_item=item, relation="has_brand", tail_entity=brand)
    brand.delete()
    assert not Relation.objects.exists()


def test_one_active_embedding_version_per_tenant(tenant, other_tenant):
    def version(t, status):
        return EmbeddingVersion.objects.create(tenant=t, model_name="m", model_path="/m", dimension=8, status=status)

    version(tenant, "active")
    version(other_tenant, "active")  # every tenant has its own
    version(tenant, "ready")
    with pytest.raises(IntegrityError), transaction.atomic():
        version(tenant, "active")


def test_queries_are_scoped_to_a_tenant(tenant, other_tenant):
    make_item(tenant, "a")
    make_item(other_tenant, "b")
    assert list(Item.objects.for_tenant(tenant).values_list("external_id", flat=True)) == ["a"]
    assert list(Item.objects.for_tenant(other_tenant.pk).values_list("external_id", flat=True)) == ["b"]
