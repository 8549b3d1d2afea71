"""Admin screens render, and their actions build, switch and roll back embedding versions."""

import pytest
from django.urls import reverse

from llmrec_django.database import vectorstore
from llmrec_django.models import EmbeddingVersion, Entity, Interaction, Item, Relation, UserProfile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(tenant, tiny_encoder):
    item = Item.objects.create(tenant=tenant, external_id="sku-1", title="Trail shoe", category="running shoes")
    Item.objects.create(tenant=tenant, external_id="sku-2", title="Tea set", category="tea sets")
    brand = Entity.objects.create(tenant=tenant, entity_type="brand", name="Kestrel")
    Relation.objects.create(tenant=tenant, head_item=item, relation="has_brand", tail_entity=brand)
    user = UserProfile.objects.create(tenant=tenant, external_id="ann")
    Interaction.objects.create(tenant=tenant, event_id="e1", user=user, item=item, event_type="click")
    return item


@pytest.mark.parametrize(
    "model", ["tenant", "item", "userprofile", "interaction", "entity", "relation", "embeddingversion"]
)
def test_changelists_render(admin_client, shop, model):
    response = admin_client.get(reverse(f"admin:llmrec_django_{model}_changelist"))
    assert response.status_code == 200


def test_item_page_shows_what_the_model_sees_and_its_embedding_status(admin_client, shop, tenant):
    url = reverse("admin:llmrec_django_item_change", args=[shop.pk])
    assert "no active version" in admin_client.get(url).content.decode()
    admin_client.post(
        reverse("admin:llmrec_django_tenant_changelist"),
        {"action": "build_embedding_version", "_selected_action": [tenant.pk]},
    )
    page = admin_client.get(url).content.decode()
    assert "Trail shoe. Category: running shoes. Related: brand: Kestrel." in page
    assert "up to date" in page


def test_build_activate_and_roll_back_from_the_admin(admin_client, shop, tenant):
    changelist = reverse("admin:llmrec_django_tenant_changelist")
    for _ in range(2):
        admin_client.post(changelist, {"action": "build_embedding_version", "_selected_action": [tenant.pk]})
    first, second = EmbeddingVersion.objects.order_by("pk")
    assert vectorstore.active_version(tenant) == second

    admin_client.post(changelist, {"action": "roll_back_embedding_version", "_selected_action": [tenant.pk]})
    assert vectorstore.active_version(tenant) == first

    versions = reverse("admin:llmrec_django_embeddingversion_changelist")
    admin_client.post(versions, {"action": "activate", "_selected_action": [second.pk]})
    assert vectorstore.active_version(tenant) == second
    page = admin_client.get(versions).content.decode()
    assert '<progress value="2" max="2">' in page

    response = admin_client.post(versions, {"action": "retire", "_selected_action": [second.pk]}, follow=True)
    assert "cannot be retired" in response.content.decode()
    assert vectorstore.active_version(tenant) == second
