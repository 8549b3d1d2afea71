"""The blend's validation split holds out each user's most recently discovered item; the in-memory
snapshot computes the features as the service does."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from llmrec_django.catalogue.collaborative import Interactions, load_interactions
from llmrec_django.core.ranking import HYBRID_FEATURES
from llmrec_django.learning.blend import TrainingSnapshot, hold_out_last_new_item
from llmrec_django.models import Interaction, UserProfile
from tests.recommend_helpers import activate, make_item


def test_the_last_new_item_is_held_out_not_a_repeat():
    # user 1: sees A, then B (new), then A again (a repeat) -> B is held out, not the repeat of A
    # user 2: only one item -> stays in training
    rows = Interactions(
        user_ids=np.array([1, 1, 1, 2, 2]),
        item_ids=np.array([10, 20, 10, 30, 30]),
        weights=np.ones(5),
        times=np.array([1.0, 2.0, 3.0, 1.0, 2.0]),
    )
    train, valid = hold_out_last_new_item(rows)
    assert rows.item_ids[valid].tolist() == [20]
    # training keeps only what happened before B was discovered: the first view of A, and user 2
    assert train.tolist() == [0, 3, 4]


@pytest.mark.django_db
def test_the_snapshot_gives_closest_liked_over_the_latest_liked_items_as_the_service_does(tenant, monkeypatch):
    from llmrec_django.database import serving_data as data

    items = {
        "ship": make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        "harbour": make_item(tenant, "harbour", "Star Harbour", vector=[0.95, 0.3, 0, 0]),
        "boot": make_item(tenant, "boot", "Ridge Boot", vector=[0.1, 0, 0, 1]),
        "trail": make_item(tenant, "trail", "Trail Boot", vector=[0.05, 0, 0, 1]),
    }
    activate(tenant, list(items.values()))
    now = timezone.now()
    bob, fan = (UserProfile.objects.create(tenant=tenant, external_id=name) for name in ("bob", "fan"))
    for user, key, hours_ago in [(bob, "boot", 2), (bob, "ship", 1), (fan, "harbour", 3), (fan, "trail", 3)]:
        Interaction.objects.create(
            tenant=tenant, event_id=f"{user.external_id}-{key}", user=user, item=items[key],
            event_type="purchase", timestamp=now - timedelta(hours=hours_ago),
        )  # fmt: skip
    column = HYBRID_FEATURES.index("closest_liked")

    def closest_for_bob() -> dict[str, float]:
        snapshot = TrainingSnapshot(tenant, load_interactions(tenant))
        ids, features = snapshot.features(bob.pk)
        titles = {item.pk: key for key, item in items.items()}
        return {titles[i]: round(float(value), 6) for i, value in zip(ids, features[:, column], strict=True)}

    # Both liked items count: the trail boot (cos .999 to the boot) is closer than the harbour
    # (.953 to the ship); two candidates standardise to +1 and -1.
    assert closest_for_bob() == {"trail": 1.0, "harbour": -1.0}
    # Only the latest liked item (the ship) counts when the service reads one liked item's vector.
    monkeypatch.setattr(data, "RECENT_LIKED_ITEMS", 1)
    assert closest_for_bob() == {"trail": -1.0, "harbour": 1.0}
