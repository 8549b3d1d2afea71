"""A tenant's interactions read in bulk (binary COPY into arrays) give exactly the arrays the ORM
gives: the same events, weights, times and order, the tenant's own only, none of an erased user."""

import datetime as dt

import numpy as np
import pytest

from llmrec_django.catalogue import sequences
from llmrec_django.catalogue.interactions import Interactions, load_events, load_interactions
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.interest import event_weights
from llmrec_django.models import Interaction, Item, UserProfile

pytestmark = pytest.mark.django_db

START = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def orm_interactions(tenant, *, positive_only=True, event_types=None, weighted=True) -> Interactions:
    """The specification: what the ORM returns, one row at a time (how the events were read before)."""
    rows = Interaction.objects.for_tenant(tenant)
    if event_types is not None:
        rows = rows.filter(event_type__in=event_types)
    rows = list(rows.order_by("timestamp", "pk").values_list("user_id", "item_id", "event_type", "value", "timestamp"))
    users = np.array([r[0] for r in rows], dtype=np.int64)
    items = np.array([r[1] for r in rows], dtype=np.int64)
    times = np.array([r[4].timestamp() for r in rows], dtype=np.float64)
    if not weighted:
        return Interactions(users, items, np.ones(len(rows)), times)
    weights = event_weights(
        [r[2] for r in rows], [r[3] for r in rows], np.zeros(len(rows)), llmrec_settings.EVENT_WEIGHTS, 0.0
    )
    keep = weights > 0 if positive_only else weights != 0
    return Interactions(users[keep], items[keep], weights[keep], times[keep])


def assert_same(got: Interactions, expected: Interactions) -> None:
    for name in ("user_ids", "item_ids", "weights", "times"):
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name


@pytest.fixture
def shop(tenant, other_tenant):
    """Three users and an erased one, five items, every kind of event (a rating without stars,
    a type no longer in EVENT_WEIGHTS, two events at the same instant), and another tenant's."""
    from llmrec_django.recommend import privacy

    items = [Item.objects.create(tenant=tenant, external_id=f"i{n}", title=f"Item {n}") for n in range(5)]
    ann, bob, cem, eve = (
        UserProfile.objects.create(tenant=tenant, external_id=name) for name in ("ann", "bob", "cem", "eve")
    )
    events = [
        (ann, 0, "view", None, 0),
        (ann, 1, "purchase", 19.99, 60),
        (ann, 2, "rating", 5.0, 120),
        (ann, 3, "rating", 1.0, 121),  # a poor rating: negative
        (ann, 4, "dislike", None, 180),
        (bob, 0, "click", None, 30.000001),
        (bob, 1, "impression", None, 31),  # weight 0
        (bob, 2, "add_to_cart", 2.0, 240),
        (bob, 3, "rating", None, 240),  # the same instant as the cart; no stars: the plain type weight
        (bob, 4, "rating", 3.0, 250),  # 3 stars: neutral, weight 0
        (cem, 2, "like", None, -86400 * 400),  # long ago
        (cem, 3, "share", None, 10),
        (cem, 1, "retired_type", None, 20),  # a type the settings no longer weigh
        (cem, 0, "search", None, 5),
        (eve, 0, "purchase", None, 1),
        (eve, 1, "view", None, 2),
    ]
    for n, (user, item, kind, value, seconds) in enumerate(events):
        Interaction.objects.create(
            tenant=tenant,
            event_id=f"e{n}",
            user=user,
            item=items[item],
            event_type=kind,
            value=value,
            timestamp=START + dt.timedelta(seconds=seconds),
        )
    stranger_item = Item.objects.create(tenant=other_tenant, external_id="x", title="Elsewhere")
    stranger = UserProfile.objects.create(tenant=other_tenant, external_id="ann")
    Interaction.objects.create(
        tenant=other_tenant, event_id="e0", user=stranger, item=stranger_item, event_type="purchase"
    )
    privacy.erase_user(eve)
    return {"users": (ann, bob, cem), "items": items}


def test_the_bulk_read_gives_the_orms_arrays(shop, tenant):
    positive = load_interactions(tenant)
    assert_same(positive, orm_interactions(tenant))
    assert_same(load_interactions(tenant, positive_only=False), orm_interactions(tenant, positive_only=False))
    assert_same(load_interactions(tenant.pk), positive)
    ann, bob, cem = shop["users"]
    i = [item.pk for item in shop["items"]]
    # Spelled out: oldest first; ties in time by id (bob's cart before his star-less rating).
    expected = [
        (cem.pk, i[2], 2.0),  # like, 400 days before
        (ann.pk, i[0], 0.5),  # view
        (cem.pk, i[3], 1.5),  # share
        (bob.pk, i[0], 1.0),  # click
        (ann.pk, i[1], 3.0),  # purchase
        (ann.pk, i[2], 1.0),  # rating 5 stars: +1 x the rating weight
        (bob.pk, i[2], 2.0),  # add_to_cart
        (bob.pk, i[3], 1.0),  # rating without stars
    ]
    assert (
        list(zip(positive.user_ids.tolist(), positive.item_ids.tolist(), positive.weights.tolist(), strict=True))
        == expected
    )
    assert positive.times[1] == START.timestamp()


def test_negative_weights_come_with_positive_only_off(shop, tenant):
    every = load_interactions(tenant, positive_only=False)
    ann = shop["users"][0]
    negatives = sorted(
        w for u, w in zip(every.user_ids.tolist(), every.weights.tolist(), strict=True) if w < 0 and u == ann.pk
    )
    assert negatives == [-2.0, -1.0], "the dislike and the 1-star rating"


def test_other_tenants_and_erased_users_are_not_read(shop, tenant, other_tenant):
    users = {user.pk for user in shop["users"]}
    assert set(load_interactions(tenant, positive_only=False).user_ids.tolist()) <= users
    assert len(load_events(tenant, ["purchase"]).user_ids) == 1, "ann's only: eve was erased"
    theirs = load_interactions(other_tenant)
    assert len(theirs.user_ids) == 1 and theirs.weights.tolist() == [3.0]


def test_weights_follow_the_settings(shop, tenant, settings):
    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "EVENT_WEIGHTS": {"retired_type": 4.0, "view": 0.0, "rating": 2.0},
    }
    data = load_interactions(tenant, positive_only=False)
    assert_same(data, orm_interactions(tenant, positive_only=False))
    assert 4.0 in data.weights.tolist() and 0.5 not in data.weights.tolist()


def test_events_of_some_types_have_weight_one(shop, tenant):
    steps = load_events(tenant, ["rating", "view", "like"])
    assert_same(steps, orm_interactions(tenant, event_types=["rating", "view", "like"], weighted=False))
    assert len(steps.user_ids) == 6
    assert_same(
        sequences.load_sequence_events(tenant),
        orm_interactions(tenant, event_types=sequences.step_types(), weighted=False),
    )
    assert len(load_events(tenant, []).user_ids) == 0


def test_a_tenant_without_events_gets_empty_arrays(other_tenant):
    data = load_interactions(other_tenant)
    assert len(data.user_ids) == 0
    assert data.user_ids.dtype == data.item_ids.dtype == np.int64
    assert data.weights.dtype == data.times.dtype == np.float64
