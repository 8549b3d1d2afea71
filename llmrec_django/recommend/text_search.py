"""Natural-language search: the query parsed into words, a category, price and attribute filters
(``core.query_parsing``), encoded, searched with those filters, and personalised for a known user."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from llmrec_django.catalogue import embedding
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.interest import normalise
from llmrec_django.core.query_parsing import ParsedQuery, parse_query
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Tenant, UserProfile
from llmrec_django.recommend.lists import (
    RecommendationList,
    Timer,
    clamp_k,
    finish_list,
    popular_list,
    resolve_user,
    vectors_failed_list,
)
from llmrec_django.recommend.rules import request_context
from llmrec_django.recommend.state import serving_state
from llmrec_django.recommend.threads import limit_blas_threads

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Natural-language search


def _remember_query(profile: UserProfile, query: str) -> None:
    kept = int(llmrec_settings.RECENT_QUERIES_KEPT)
    queries = [q for q in (profile.recent_queries or []) if q != query] + [query]
    profile.recent_queries = queries[-kept:] if kept > 0 else []
    profile.save(update_fields=["recent_queries", "updated_at"])


def search(
    query: str,
    *,
    tenant: Tenant | str | None = None,
    user: UserProfile | str | None = None,
    k: int | None = None,
    context: Mapping[str, Any] | None = None,
    remember: bool = True,
) -> RecommendationList:
    """Items matching a free-text query, in any language the encoder reads.

    The query's vector is blended with the user's interest vector (``SEARCH_QUERY_WEIGHT``) when a
    user is given; a price ceiling ("under $50", "50元以下"), "cheap" (bottom price tercile) and
    a category named in the query are applied as filters. The query is remembered in the user's
    ``recent_queries``. A user who turned personalisation off is searched for like a visitor.
    """
    timer = Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    k = clamp_k(k)
    if not query or not query.strip():
        raise ValueError("The search query is empty.")
    query = query.strip()
    profile = resolve_user(user, tenant) if user is not None else None
    if profile is not None and not profile.personalisation_enabled:
        profile = None  # searches like a visitor: no taste blended in, the query not remembered
    context = request_context(context)
    parsed = parse_query(query, serving_data.categories(tenant.pk))
    max_price = parsed.max_price
    if max_price is None and parsed.cheap:
        max_price = serving_data.cheap_price_ceiling(tenant.pk, parsed.category)
    if profile is not None:
        if remember:
            _remember_query(profile, query)
    timer.lap("parse")

    version = serving_state(tenant.pk).version
    common = dict(k=k, version=version, timer=timer, context=context, category=parsed.category, max_price=max_price)
    if version is None:
        return _with_query(popular_list(tenant, reason="no active embedding version", **common), parsed)
    try:
        vector = np.asarray(embedding.encoder_for(version).encode([query])[0], dtype=np.float32)
        if vector.shape != (version.dimension,):
            raise ValueError(f"encoder gives vectors of shape {vector.shape}, the version holds {version.dimension}-d")
        if not np.all(np.isfinite(vector)):
            raise ValueError("encoder gives a vector that is not finite")
    except Exception as exc:  # noqa: BLE001 - any encoder trouble means: answer from popularity
        logger.warning("Encoding the query failed for tenant %s: %s", tenant.slug, exc)
        result = popular_list(tenant, reason=f"the encoder failed ({type(exc).__name__}: {exc})", **common)
        return _with_query(result, parsed)
    weight = float(llmrec_settings.SEARCH_QUERY_WEIGHT)
    n = k + int(llmrec_settings.CANDIDATES_PER_SOURCE) // 4
    try:
        user_vec = vectorstore.user_vector(version, profile.pk) if profile is not None else None
        vector = normalise(vector) if normalise(vector) is not None else vector
        if user_vec is not None and weight < 1:
            blended = normalise(weight * vector + (1 - weight) * user_vec)
            vector = vector if blended is None else blended
        timer.lap("encode")
        found = vectorstore.nearest_items(version, vector, n, category=parsed.category, max_price=max_price)
    except vectorstore.READ_ERRORS as exc:
        return _with_query(vectors_failed_list(tenant, exc, **common), parsed)
    ids = [nb.item_id for nb in found]
    items = serving_data.load_items(tenant.pk, ids)
    described = (
        parsed.describe() if max_price is None or parsed.max_price is not None else _cheap_words(parsed, max_price)
    )
    explanation = f'Matches "{query}"' + (f" ({described})" if described else "")
    recs = finish_list(
        tenant,
        ids,
        np.array([nb.score for nb in found]),
        [("search",)] * len(ids),
        dict.fromkeys(ids, explanation),
        items,
        k=k,
        context=context,
        category=parsed.category,
        attributes=None,
        exclude=set(),
    )
    timer.lap("search")
    result = RecommendationList(items=recs, source="search", version_id=version.pk, k=k, timings_ms=timer.done())
    return _with_query(result, parsed)


def _cheap_words(parsed: ParsedQuery, ceiling: float) -> str:
    parts = [f"cheap: under ${ceiling:.2f}"]
    if parsed.category:
        parts.append(f"in {parsed.category}")
    return ", ".join(parts)


def _with_query(result: RecommendationList, parsed: ParsedQuery) -> RecommendationList:
    result.query = parsed
    return result
