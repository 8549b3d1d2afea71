"""Exploration: a few places per list for items the site has shown little, so the model keeps
learning about the long tail (``LLMREC["ONLINE"]["EXPLORATION"]``, or an arm's
``exploration_slots``).

An explored item is one of the list's candidates (so it still matches the user somewhat) that
was shown fewer than ``MAX_IMPRESSIONS`` times in the last ``WINDOW_DAYS``, drawn at random
among the ``POOL`` best-scored such candidates. It takes the last places of the list, is marked
``"explore"`` in the item's sources, and its positions are logged with the served list so the
reports can measure exploration on its own.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from django.db import connection

from llmrec_django.conf import llmrec_settings
from llmrec_django.database.caches import TenantCache


def _settings() -> dict:
    return llmrec_settings.ONLINE["EXPLORATION"]


def _compute_exposure(tenant_id: int) -> dict[int, int]:
    """Impressions per item in the window (items never shown are absent)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT item_id, count(*)
            FROM llmrec_django_servedlist s, unnest(s.item_ids) AS item_id
            WHERE s.tenant_id = %s AND NOT s.shadow AND s.served_at >= now() - make_interval(days => %s)
            GROUP BY item_id
            """,
            [tenant_id, int(_settings()["WINDOW_DAYS"])],
        )
        return dict(cursor.fetchall())


exposure = TenantCache("exposure", _compute_exposure, lambda: float(_settings()["CACHE_SECONDS"]))


def picks(
    tenant_id: int,
    candidate_ids: Sequence[int],
    scores: np.ndarray,
    *,
    slots: int | None = None,
    skip: int = 0,
    rng: random.Random | None = None,
) -> list[int]:
    """Up to ``slots`` under-exposed candidates for this list (none when exploration is off, or
    this list is not among the share ``EPSILON`` that explores). The ``skip`` best-scored
    candidates are left out: the list shows them anyway."""
    options = _settings()
    slots = int(options["SLOTS"] if slots is None else slots)
    if slots <= 0 or not len(candidate_ids):
        return []
    rng = rng or random
    if rng.random() >= float(options["EPSILON"]):
        return []
    shown = exposure.get(tenant_id)
    limit = int(options["MAX_IMPRESSIONS"])
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    pool = [int(candidate_ids[j]) for j in order[skip:] if shown.get(int(candidate_ids[j]), 0) < limit]
    pool = pool[: max(int(options["POOL"]), slots)]
    return rng.sample(pool, min(slots, len(pool)))
