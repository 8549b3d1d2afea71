"""A tenant's interactions as parallel arrays, read in one query (the collaborative model, the
sequence models and the blend's snapshot learn from them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.interest import event_weights
from llmrec_django.models import Interaction, Tenant


@dataclass
class Interactions:
    """A tenant's positive interactions as parallel arrays of database ids."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    weights: np.ndarray
    times: np.ndarray  # Unix seconds


def load_interactions(tenant: Tenant | int, *, positive_only: bool = True) -> Interactions:
    """Every interaction of the tenant with a positive weight, oldest first (one query); with
    ``positive_only=False`` every one with a non-zero weight (dislikes, poor ratings: negative)."""
    rows = list(
        Interaction.objects.for_tenant(tenant)
        .order_by("timestamp", "pk")
        .values_list("user_id", "item_id", "event_type", "value", "timestamp")
    )
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Interactions(empty, empty, np.zeros(0), np.zeros(0))
    users, items, types, values, stamps = zip(*rows, strict=True)
    weights = event_weights(list(types), list(values), np.zeros(len(rows)), llmrec_settings.EVENT_WEIGHTS, 0.0)
    keep = weights > 0 if positive_only else weights != 0
    return Interactions(
        user_ids=np.asarray(users, dtype=np.int64)[keep],
        item_ids=np.asarray(items, dtype=np.int64)[keep],
        weights=weights[keep],
        times=np.array([t.timestamp() for t in stamps], dtype=np.float64)[keep],
    )
