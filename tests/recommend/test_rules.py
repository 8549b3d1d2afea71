"""Business rules managed in the admin: boost, bury, pin, block, and context conditions."""

import pytest
from django.utils import timezone

from llmrec_django.models import BusinessRule, Interaction, UserProfile
from llmrec_django.recommend import recommend_for_user
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tenant):
    """Alice's vector ranks a > b > c > d; e is a promotion far from her taste."""
    items = {
        "a": make_item(tenant, "a", "Alpha", vector=[1, 0.1, 0, 0]),
        "b": make_item(tenant, "b", "Bravo", vector=[1, 0.3, 0, 0]),
        "c": make_item(tenant, "c", "Charlie", category="books", vector=[1, 0.6, 0, 0], brand="Acme"),
        "d": make_item(tenant, "d", "Delta", vector=[1, 1, 0, 0]),
        "e": make_item(tenant, "e", "Echo", category="promo", vector=[0, 0, 0, 1]),
    }
    alice = UserProfile.objects.create(tenant=tenant, external_id="alice")
    activate(tenant, list(items.values()), users=[(alice, [1, 0, 0, 0])])
    return items


def top(**kwargs):
    return [r.title for r in recommend_for_user("alice", k=4, mmr_lambda=1.0, **kwargs).items]


def rule(tenant, kind, **fields):
    return BusinessRule.objects.create(tenant=tenant, kind=kind, **fields)


def test_without_rules_the_list_follows_the_vector(shop):
    assert top() == ["Alpha", "Bravo", "Charlie", "Delta"]


def test_boost_multiplies_the_score(shop, tenant):
    rule(tenant, "boost", item=shop["d"], factor=3.0)
    assert top()[0] == "Delta"


def test_bury_moves_items_of_a_category_to_the_end(shop, tenant):
    rule(tenant, "bury", category="films")
    assert top() == ["Charlie", "Echo", "Alpha", "Bravo"]


def test_pin_forces_an_item_at_its_position(shop, tenant):
    rule(tenant, "pin", item=shop["e"], position=1)
    result = recommend_for_user("alice", k=4, mmr_lambda=1.0)
    assert [r.title for r in result.items] == ["Alpha", "Echo", "Bravo", "Charlie"]
    assert "rule:pin" in result.items[1].sources


def test_block_by_attribute_removes_items(shop, tenant):
    rule(tenant, "block", attribute_key="brand", attribute_value="Acme")
    assert "Charlie" not in top()


def test_inactive_and_expired_rules_do_nothing(shop, tenant):
    rule(tenant, "block", item=shop["a"], is_active=False)
    rule(tenant, "block", item=shop["b"], ends_at=timezone.now() - timezone.timedelta(days=1))
    rule(tenant, "block", item=shop["c"], starts_at=timezone.now() + timezone.timedelta(days=1))
    assert top() == ["Alpha", "Bravo", "Charlie", "Delta"]


def test_a_context_conditioned_rule_applies_only_in_its_context(shop, tenant):
    rule(tenant, "pin", item=shop["e"], position=0, device="mobile", time_of_day="evening")
    assert top(context={"device": "mobile", "time_of_day": "evening"})[0] == "Echo"
    assert "Echo" not in top(context={"device": "desktop", "time_of_day": "evening"})
    assert "Echo" not in top(context={"device": "mobile", "time_of_day": "morning"})


def test_rules_also_apply_to_the_popularity_fallback(shop, tenant):
    UserProfile.objects.create(tenant=tenant, external_id="bob")  # no words, no events, no vector: fallback
    for n, key in enumerate(("a", "a", "b")):
        clicker = UserProfile.objects.create(tenant=tenant, external_id=f"clicker-{n}")
        Interaction.objects.create(tenant=tenant, event_id=f"e{n}", user=clicker, item=shop[key], event_type="click")
    rule(tenant, "block", item=shop["a"])
    result = recommend_for_user("bob", k=2)
    assert result.source == "fallback:popularity"
    assert [r.title for r in result.items][0] == "Bravo"
