"""Similar items: the items nearest to an anchor item in the serving embedding version, with
the knowledge graph's relation weight and the usual filters, rules and diversity."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from llmrec_django.catalogue import collaborative
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.database.routing import reads_from_serving_database
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import EmbeddingVersion, Item, Tenant, UserProfile
from llmrec_django.recommend import explain
from llmrec_django.recommend.lists import (
    RecommendationList,
    Timer,
    clamp_k,
    finish_list,
    popular_list,
    resolve_item,
    resolve_user,
    vectors_failed_list,
)
from llmrec_django.recommend.rules import request_context
from llmrec_django.recommend.state import serving_state
from llmrec_django.recommend.threads import limit_blas_threads

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Similar items


@reads_from_serving_database
def similar_items(
    item: Item | str,
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    user: UserProfile | str | None = None,
) -> RecommendationList:
    """Items like ``item``: nearest vectors, KG neighbours and co-consumed items, scored by
    ``cos * R`` with R the KG weight from this item; a given user's consumed items are left out."""
    timer = Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(item, "tenant", None))
    k = clamp_k(k)
    anchor = resolve_item(item, tenant)
    profile = resolve_user(user, tenant) if user is not None else None
    exclude = {anchor.pk}
    if profile is not None:
        exclude |= serving_data.load_history(
            profile.pk, llmrec_settings.EXCLUDE_CONSUMED_EVENT_TYPES, llmrec_settings.EXCLUDE_RECENT_EVENTS
        ).consumed
    context = request_context(None)
    version = serving_state(tenant.pk).version
    common = dict(k=k, version=version, timer=timer, context=context, exclude=exclude)
    if version is None:
        return popular_list(tenant, reason="no active embedding version", category=anchor.category or None, **common)
    try:
        return _similar_list(anchor, tenant, version, timer, k=k, exclude=exclude, context=context)
    except vectorstore.READ_ERRORS as exc:
        return vectors_failed_list(tenant, exc, **common)


def _similar_list(
    anchor: Item,
    tenant: Tenant,
    version: EmbeddingVersion,
    timer: Timer,
    *,
    k: int,
    exclude: set[int],
    context: Mapping[str, Any],
) -> RecommendationList:
    """Items like ``anchor`` in ``version``; raises ``vectorstore.READ_ERRORS`` when the vectors
    cannot be used (the caller falls back)."""
    common = dict(k=k, version=version, timer=timer, context=context, exclude=exclude)
    anchor_vec = vectorstore.item_vectors(version, [anchor.pk]).get(anchor.pk)
    if anchor_vec is None:
        return popular_list(tenant, reason="the item has no vector yet", category=anchor.category or None, **common)
    n = int(llmrec_settings.CANDIDATES_PER_SOURCE)
    ann = {
        nb.item_id: nb.score
        for nb in vectorstore.nearest_items(version, anchor_vec, n, exclude_item_ids=sorted(exclude))
    }
    anchor_edges, labels = serving_data.item_entity_edges([anchor.pk])
    entity_weights = dict(anchor_edges.get(anchor.pk, {}))
    kg = serving_data.kg_candidates(tenant.pk, entity_weights, n, exclude)
    cf_model = collaborative.current_model(tenant, record=serving_state(tenant.pk).collaborative)
    cf = {i: s for i, s in (cf_model.similar(anchor.pk, n) if cf_model else {}).items() if i not in exclude}
    ids, _, proposed = ranking.merge_candidates(ann, kg, cf, names=("vector", "kg", "collaborative"))
    items = serving_data.load_items(tenant.pk, ids)
    keep = [j for j, i in enumerate(ids) if i in items and items[i].is_active]
    ids, proposed = [ids[j] for j in keep], [proposed[j] for j in keep]
    vectors = vectorstore.item_vectors(version, ids)
    cosine = np.array([float(vectors[i] @ anchor_vec) if i in vectors else 0.0 for i in ids])
    cosine /= float(np.linalg.norm(anchor_vec)) or 1.0
    norms = np.array([float(np.linalg.norm(vectors[i])) if i in vectors else 1.0 for i in ids])
    cosine /= np.where(norms > 0, norms, 1.0)
    candidate_edges, candidate_labels = serving_data.item_entity_edges(ids)
    labels.update(candidate_labels)
    kg_weight, best_entity = serving_data.kg_weights(
        entity_weights, candidate_edges, ids, float(llmrec_settings.KG_CAP), labels
    )
    scores = ranking.hybrid_scores(cosine, kg_weight)
    explanations = {}
    for j, item_id in enumerate(ids):
        entity = best_entity[j]
        if entity is not None and entity[0] == "e":
            entity_type, name = labels[entity]
            explanations[item_id] = f'Same {entity_type} as "{anchor.title}": {name}'
        elif entity is not None:
            relation = labels.get(entity, ("related_to",))[0]
            explanations[item_id] = f'{explain.ITEM_RELATION_PHRASES.get(relation, "Related to")} "{anchor.title}"'
        elif "collaborative" in proposed[j] and "vector" not in proposed[j]:
            explanations[item_id] = f'Often chosen by people who chose "{anchor.title}"'
        else:
            explanations[item_id] = f'Similar to "{anchor.title}"'
    timer.lap("candidates")
    recs = finish_list(
        tenant, ids, scores, proposed, explanations, items,
        k=k, context=context, category=None, attributes=None, exclude=exclude,
    )  # fmt: skip
    return RecommendationList(items=recs, source="similar", version_id=version.pk, k=k, timings_ms=timer.done())
