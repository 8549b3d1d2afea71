"""New items: the catalogue's items nobody had interacted with when the collaborative model was
fitted, and the places kept for them in each list.

The collaborative model (ALS, item-KNN) and popularity cannot score such an item, and the fitted
blend, which learns from users' next items, rightly ranks items without that evidence low (few
of them are anyone's next item). Left at that, a new item is never shown, so it never gets the
interactions that would let the model learn about it. So each personalised list keeps up to
``NEW_ITEM_SLOTS`` places at its end for the new items closest to what the user liked, by their
vectors alone::

    from llmrec_django.recommending import new_items

    pool = new_items.pool_for(tenant.pk, version, cf_record_id)           # cached per process
    proposals = new_items.candidates(pool, liked_vectors, exclude, n=4)    # {item_id: match}
    ranked = new_items.rank(candidate_ids, pool, candidate_vectors, liked_vectors)

The pool holds the newest ``NEW_ITEM_POOL_SIZE`` new items with their vectors, read again every
``NEW_ITEM_POOL_CACHE_SECONDS`` and at once when the model is refitted. An item stays new after
the fit even if people view it meanwhile (it still needs the places until the model knows it);
an item that only ever got poor ratings or dislikes before the fit is not new: it was seen.
``candidates`` searches the whole pool, not only the items the other candidate sources happened
to propose: an item nobody has seen is rarely among the nearest items to a user's *mean* taste,
while it may be very close to one of the things they liked. ``rank`` orders a list's new
candidates by that match for the list's new-item places (``recommend._finish`` puts them there).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.database import vectorstore
from llmrec_django.database.caches import TenantCache
from llmrec_django.models import CollaborativeModel, EmbeddingVersion
from llmrec_django.recommend.state import serving_state

# A new item is matched on its mean cosine to the liked items it is closest to: this many.
# Someone with several tastes is matched on one of them, where the mean interest vector would
# blur them (on MovieLens this finds 2.5x more of the new films users go on to like).
CLOSEST_LIKED = 3
# Proposals per place: rules and filters (category, blocks) may still drop some.
PROPOSALS_PER_SLOT = 4


@dataclass(frozen=True)
class NewItemPool:
    """The newest active items nobody had interacted with when a collaborative model was fitted,
    with their vectors in one embedding version (unit rows, float32), newest first."""

    version_id: int
    model_id: int
    item_ids: np.ndarray
    vectors: np.ndarray
    members: frozenset[int]

    def __len__(self) -> int:
        return len(self.item_ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.members


def load_pool(tenant_id: int, version: EmbeddingVersion, model_id: int) -> NewItemPool:
    """Read the pool: active items of the tenant with a vector in ``version`` and no interaction
    stored before collaborative model ``model_id`` was, newest (highest id) first, at most
    ``NEW_ITEM_POOL_SIZE`` of them (one query walking down the primary key; items still being
    embedded are not in it)."""
    fitted_at = CollaborativeModel.objects.filter(pk=model_id).values_list("created_at", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.id FROM llmrec_django_item i
            JOIN llmrec_django_itemvector v ON v.item_id = i.id AND v.version_id = %s
            WHERE i.tenant_id = %s AND i.is_active AND NOT EXISTS (
                SELECT 1 FROM llmrec_django_interaction e
                WHERE e.tenant_id = %s AND e.item_id = i.id AND e.created_at <= %s
            )
            ORDER BY i.id DESC LIMIT %s
            """,
            [version.pk, tenant_id, tenant_id, fitted_at or timezone.now(), int(llmrec_settings.NEW_ITEM_POOL_SIZE)],
        )
        found = [row[0] for row in cursor.fetchall()]
    vectors = vectorstore.item_vectors(version, found)
    ids = [i for i in found if i in vectors]  # all, unless a vector went meanwhile
    if ids:
        matrix = np.stack([vectors[i] for i in ids]).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix /= np.where(norms > 0, norms, 1.0)
    else:
        matrix = np.zeros((0, version.dimension), dtype=np.float32)
    return NewItemPool(version.pk, model_id, np.array(ids, dtype=np.int64), matrix, frozenset(ids))


def _load_current_pool(tenant_id: int) -> NewItemPool | None:
    """The pool for the tenant's active version and latest collaborative model (None without both)."""
    state = serving_state(tenant_id)
    if state.version is None or state.collaborative is None:
        return None
    return load_pool(tenant_id, state.version, state.collaborative[0])


_pools: TenantCache[NewItemPool | None] = TenantCache(
    "new-item pool", _load_current_pool, lambda: float(llmrec_settings.NEW_ITEM_POOL_CACHE_SECONDS)
)


def pool_for(tenant_id: int, version: EmbeddingVersion, model_id: int) -> NewItemPool:
    """The pool for a request with this version and collaborative model (record id): the cached
    one, read again at once when the active version or the model changed since, and read for
    this request only when they are not the tenant's current ones (an experiment arm's version)."""
    pool = _pools.get(tenant_id)
    if pool is not None and (pool.version_id, pool.model_id) == (version.pk, model_id):
        return pool
    state = serving_state(tenant_id)
    current = state.version is not None and state.version.pk == version.pk
    if current and state.collaborative is not None and state.collaborative[0] == model_id:
        pool = _pools.refresh(tenant_id)
        if pool is not None:
            return pool
    return load_pool(tenant_id, version, model_id)


def clear() -> None:
    _pools.clear()


def candidates(
    pool: NewItemPool, liked_vectors: Mapping[int, np.ndarray], exclude: Collection[int], n: int
) -> dict[int, float]:
    """The ``n`` new items of the pool closest to the user's liked items (``liked_vectors``, most
    recent first), leaving out ``exclude``: ``{item_id: match}``, best first. Items below
    ``NEW_ITEM_MIN_SIMILARITY`` are not proposed."""
    if n <= 0 or not len(pool) or not liked_vectors:
        return {}
    allowed = ~np.isin(pool.item_ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
    rows, match = ranking.closest_new_items(
        pool.vectors,
        np.stack(list(liked_vectors.values())),
        n,
        min_similarity=float(llmrec_settings.NEW_ITEM_MIN_SIMILARITY),
        top=CLOSEST_LIKED,
        allowed=allowed,
    )
    return {int(pool.item_ids[r]): float(m) for r, m in zip(rows, match, strict=True)}


def rank(
    ids: Sequence[int],
    pool: Collection[int],
    vectors: Mapping[int, np.ndarray],
    liked_vectors: Mapping[int, np.ndarray],
) -> list[int]:
    """The list's candidates that are new items (in ``pool``), best match first, for its new-item
    places: at most ``PROPOSALS_PER_SLOT`` per place, each reaching ``NEW_ITEM_MIN_SIMILARITY``."""
    slots = int(llmrec_settings.NEW_ITEM_SLOTS)
    fresh = [i for i in ids if i in pool and i in vectors]
    if slots <= 0 or not fresh or not liked_vectors:
        return []
    rows, _ = ranking.closest_new_items(
        np.stack([vectors[i] for i in fresh]),
        np.stack(list(liked_vectors.values())),
        slots * PROPOSALS_PER_SLOT,
        min_similarity=float(llmrec_settings.NEW_ITEM_MIN_SIMILARITY),
        top=CLOSEST_LIKED,
        shortlist=len(fresh),
    )
    return [fresh[r] for r in rows]
