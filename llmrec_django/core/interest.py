"""A user's interest vector from behaviour and stated interests.

    weight(event)   = type_weight(event_type, value) * 0.5 ** (age_days / half_life_days)
    behaviour       = (sum(positive w_i v_i) + repetition * sum(negative w_i v_i)) / scale
    interest        = normalise(behaviour + profile_weight * profile_vector)

Positive events (views, clicks, purchases, good ratings) pull the vector toward an item;
dislikes and poor ratings push it away, by strength and repetition: one negative event counts
``1 / NEGATIVE_EVIDENCE_EVENTS`` of its weight (one "not for me" is not yet a taste), and a user
without positive events has their negative ones weighed against ``NEGATIVE_PRIOR_WEIGHT`` (so
a single dislike does not outweigh the interests they wrote). ``scale`` is the positive weights'
sum, else the negative ones' plus that prior. A user with no usable events but a profile text
(or recent queries) gets the profile's vector; one with neither gets none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SECONDS_PER_DAY = 86_400.0

# Ratings are centred on this value: 5 stars pull, 1 star pushes, 3 stars say little.
RATING_MIDPOINT = 3.0
RATING_HALF_RANGE = 2.0
# Negative events at full weight from this many on (fewer count proportionally less).
NEGATIVE_EVIDENCE_EVENTS = 2
# What negative evidence is weighed against when there is no positive evidence (a like's weight).
NEGATIVE_PRIOR_WEIGHT = 2.0


def event_weights(
    event_types: Sequence[str],
    values: Sequence[float | None],
    ages_seconds: np.ndarray,
    type_weights: Mapping[str, float],
    half_life_days: float,
) -> np.ndarray:
    """One weight per event: its type's weight, signed by rating, decayed by age."""
    base = np.array([float(type_weights.get(t, 0.0)) for t in event_types], dtype=np.float64)
    for i, (event_type, value) in enumerate(zip(event_types, values, strict=True)):
        if event_type == "rating" and value is not None and np.isfinite(value):
            base[i] *= float(np.clip((value - RATING_MIDPOINT) / RATING_HALF_RANGE, -1.0, 1.0))
    ages_days = np.maximum(np.asarray(ages_seconds, dtype=np.float64), 0.0) / SECONDS_PER_DAY
    decay = 0.5 ** (ages_days / half_life_days) if half_life_days > 0 else 1.0
    return base * decay


def normalise(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-9:
        return None
    return (vector / norm).astype(np.float32)


def interest_vector(
    item_vectors: np.ndarray,
    weights: np.ndarray,
    profile_vector: np.ndarray | None = None,
    profile_weight: float = 0.5,
) -> np.ndarray | None:
    """The unit interest vector, or None when nothing is known about the user."""
    total = None
    weights = np.asarray(weights, dtype=np.float64)
    if len(weights):
        negative = weights < 0
        positive = weights[weights > 0].sum()
        scale = positive if positive > 0 else np.abs(weights[negative]).sum() + NEGATIVE_PRIOR_WEIGHT
        repetition = min(1.0, int(negative.sum()) / NEGATIVE_EVIDENCE_EVENTS)
        weights = np.where(negative, weights * repetition, weights)
        if positive > 0 or negative.any():
            total = (weights[:, None] * np.asarray(item_vectors, dtype=np.float64)).sum(axis=0) / scale
    if profile_vector is not None:
        contribution = profile_weight * np.asarray(profile_vector, dtype=np.float64)
        total = contribution if total is None else total + contribution
    return None if total is None else normalise(total)
