"""The list cache (``llmrec_django.recommend.list_cache``): a user's list is served again only while
nothing it depends on changed, every serve is logged as its own list, and a failing cache never
costs an answer."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.core.cache import caches as django_caches
from django.utils import timezone

from llmrec_django.database import caches, vectorstore
from llmrec_django.models import BusinessRule, Interaction, ServedList, UserProfile
from llmrec_django.recommend import list_cache, privacy, serving
from tests.recommend_helpers import activate, make_item, unit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def list_cache_on(settings):
    settings.LLMREC = {**settings.LLMREC, "LIST_CACHE": {"SECONDS": 60, "CACHE": "default"}}


@pytest.fixture
def shop(tenant):
    """30 items on random 4-d directions, 5 users with interest vectors, active; each user viewed
    two items."""
    rng = np.random.default_rng(7)
    items = [make_item(tenant, f"item-{i:02d}", f"Item {i}", vector=rng.normal(size=4)) for i in range(30)]
    users = [UserProfile.objects.create(tenant=tenant, external_id=f"user-{u}") for u in range(5)]
    version = activate(tenant, items, users=[(u, rng.normal(size=4)) for u in users])
    for n, user in enumerate(users):
        for item in items[n : n + 2]:
            add_event(tenant, user, item, "view")
    return items, users, version


def add_event(tenant, user, item, event_type):
    return Interaction.objects.create(
        tenant=tenant, event_id=str(uuid.uuid4()), user=user, item=item, event_type=event_type
    )


def was_kept(result) -> bool:
    return "list_cache" in result.timings_ms


def test_the_second_request_is_served_from_the_cache_and_logged_as_a_list_of_its_own(shop, tenant):
    _, users, _ = shop
    first = serving.for_user(users[0], tenant=tenant, k=5)
    second = serving.for_user(users[0], tenant=tenant, k=5)
    assert first.source == "hybrid" and not was_kept(first)
    assert was_kept(second)
    assert second.item_ids == first.item_ids and second.version_id == first.version_id
    assert second.list_id != first.list_id
    logged = ServedList.objects.filter(user=users[0]).order_by("served_at")
    assert [str(s.id) for s in logged] == [first.list_id, second.list_id]
    assert [s.item_ids for s in logged] == [first.item_ids, first.item_ids]


def test_lists_are_kept_per_user_and_per_request_variant(shop, tenant):
    _, users, _ = shop
    mine = serving.for_user(users[0], tenant=tenant, k=5)
    theirs = serving.for_user(users[1], tenant=tenant, k=5)
    assert not was_kept(theirs) and theirs.item_ids != mine.item_ids
    longer = serving.for_user(users[0], tenant=tenant, k=8)
    mobile = serving.for_user(users[0], tenant=tenant, k=5, context={"device": "mobile"})
    assert not was_kept(longer) and len(longer.items) == 8
    assert not was_kept(mobile)
    again = [serving.for_user(users[0], tenant=tenant, k=k) for k in (5, 8)]
    assert all(map(was_kept, again))
    assert [r.item_ids for r in again] == [mine.item_ids, longer.item_ids]


def test_a_new_event_of_the_user_makes_the_list_computed_again(shop, tenant):
    items, users, _ = shop
    first = serving.for_user(users[0], tenant=tenant, k=5)
    bought = next(i for i in items if i.pk == first.item_ids[0])
    add_event(tenant, users[0], bought, "purchase")
    after = serving.for_user(users[0], tenant=tenant, k=5)
    assert not was_kept(after)
    assert bought.pk not in after.item_ids  # purchases are not recommended again
    # Another user's event changes nothing for this user.
    add_event(tenant, users[1], items[20], "purchase")
    assert was_kept(serving.for_user(users[0], tenant=tenant, k=5))


def test_a_rewritten_interest_vector_or_profile_makes_the_list_computed_again(shop, tenant):
    _, users, version = shop
    serving.for_user(users[0], tenant=tenant, k=5)
    vectorstore.write_user_vectors(version, [users[0].pk], np.stack([unit([1, 0, 0, 0])]), [3])
    assert not was_kept(serving.for_user(users[0], tenant=tenant, k=5))
    assert was_kept(serving.for_user(users[0], tenant=tenant, k=5))
    users[0].profile_text = "Quiet films about the sea"
    users[0].save()
    assert not was_kept(serving.for_user(users[0], tenant=tenant, k=5))


def test_a_listed_item_that_is_deactivated_or_edited_is_never_served_from_the_cache(shop, tenant):
    items, users, _ = shop
    first = serving.for_user(users[0], tenant=tenant, k=5)
    gone = next(i for i in items if i.pk == first.item_ids[1])
    gone.is_active = False
    gone.save()
    caches.clear_all()
    after = serving.for_user(users[0], tenant=tenant, k=5)
    assert not was_kept(after) and gone.pk not in after.item_ids
    renamed = next(i for i in items if i.pk == after.item_ids[0])
    renamed.title = "A new title"
    renamed.save()
    again = serving.for_user(users[0], tenant=tenant, k=5)
    assert not was_kept(again) and again.items[0].title == "A new title"


def test_a_change_of_the_serving_state_makes_the_list_computed_again(shop, tenant):
    items, users, _ = shop
    first = serving.for_user(users[0], tenant=tenant, k=5)
    blocked = next(i for i in items if i.pk == first.item_ids[0])
    rule = BusinessRule.objects.create(tenant=tenant, name="hide", kind="block", item=blocked)
    after = serving.for_user(users[0], tenant=tenant, k=5)
    assert not was_kept(after) and blocked.pk not in after.item_ids
    assert was_kept(serving.for_user(users[0], tenant=tenant, k=5))
    rule.kind = "bury"  # an edit of a rule (rules carry no change time: their contents count)
    rule.save()
    buried = serving.for_user(users[0], tenant=tenant, k=5)
    assert not was_kept(buried) and blocked.pk not in buried.item_ids  # buried below the first 5
    rule.is_active = False
    rule.save()
    restored = serving.for_user(users[0], tenant=tenant, k=5)
    # The tenant serves as it did before the rule: the list kept from then is right again.
    assert blocked.pk in restored.item_ids and restored.item_ids == first.item_ids


def test_a_rule_whose_time_window_opens_applies_at_once(shop, tenant, monkeypatch):
    from llmrec_django.recommend import rules

    items, users, _ = shop
    first = serving.for_user(users[0], tenant=tenant, k=5)
    blocked = next(i for i in items if i.pk == first.item_ids[0])
    now = timezone.now()
    BusinessRule.objects.create(tenant=tenant, kind="block", item=blocked, starts_at=now + timedelta(hours=1))
    before = serving.for_user(users[0], tenant=tenant, k=5)
    assert blocked.pk in before.item_ids
    assert was_kept(serving.for_user(users[0], tenant=tenant, k=5))
    monkeypatch.setattr(rules.timezone, "now", lambda: now + timedelta(hours=2))
    after = serving.for_user(users[0], tenant=tenant, k=5)
    assert not was_kept(after) and blocked.pk not in after.item_ids


def test_kept_lists_expire(shop, tenant, monkeypatch):
    _, users, _ = shop
    serving.for_user(users[0], tenant=tenant, k=5)
    now = list_cache.time.time()
    monkeypatch.setattr(list_cache.time, "time", lambda: now + 59)
    assert was_kept(serving.for_user(users[0], tenant=tenant, k=5))
    monkeypatch.setattr(list_cache.time, "time", lambda: now + 61)
    assert not was_kept(serving.for_user(users[0], tenant=tenant, k=5))


def test_fallback_lists_are_not_kept(tenant):
    item = make_item(tenant, "a", "A", vector=[1, 0, 0, 0])
    make_item(tenant, "b", "B", vector=[0, 1, 0, 0])
    user = UserProfile.objects.create(tenant=tenant, external_id="new")
    activate(tenant, [item])
    results = [serving.for_user(user, tenant=tenant, k=2) for _ in range(2)]
    assert [r.source for r in results] == ["fallback:popularity"] * 2
    assert django_caches["default"].get(list_cache.user_key(tenant.pk, user.pk)) is None


def test_erasing_a_user_deletes_their_kept_lists(shop, tenant):
    _, users, _ = shop
    serving.for_user(users[0], tenant=tenant, k=5)
    key = list_cache.user_key(tenant.pk, users[0].pk)
    assert django_caches["default"].get(key)
    privacy.erase_user(users[0])
    assert django_caches["default"].get(key) is None


def test_seconds_zero_turns_the_cache_off(shop, tenant, settings):
    _, users, _ = shop
    settings.LLMREC = {**settings.LLMREC, "LIST_CACHE": {"SECONDS": 0}}
    results = [serving.for_user(users[0], tenant=tenant, k=5) for _ in range(2)]
    assert not any(map(was_kept, results))
    assert django_caches["default"].get(list_cache.user_key(tenant.pk, users[0].pk)) is None


def test_a_cache_that_cannot_be_reached_costs_no_answer(shop, tenant, settings, caplog):
    _, users, _ = shop
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }
    settings.LLMREC = {**settings.LLMREC, "LIST_CACHE": {"SECONDS": 60, "CACHE": "unreachable"}}
    results = [serving.for_user(users[0], tenant=tenant, k=5) for _ in range(2)]
    assert [r.source for r in results] == ["hybrid", "hybrid"]
    assert results[0].item_ids == results[1].item_ids and not any(map(was_kept, results))
    assert "list cache could not be" in caplog.text
