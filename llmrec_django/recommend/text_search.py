"""Natural-language search: the request understood against the catalogue (``core.intent``: a
category, hard constraints, context, soft words), the soft words encoded, searched with the
constraints as filters, and personalised for a known user."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from llmrec_django.catalogue import embedding
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.intent import CHEAP_WORDS, Intent, parse_intent
from llmrec_django.core.interest import normalise
from llmrec_django.core.query_parsing import ParsedQuery
from llmrec_django.database import caches, serving_data, vectorstore
from llmrec_django.database.routing import reads_from_serving_database
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Tenant, UserProfile
from llmrec_django.recommend.lists import (
    RecommendationList,
    Timer,
    clamp_k,
    finish_list,
    met_explanation,
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


@reads_from_serving_database
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

    The query is understood against the tenant's catalogue (``core.intent``): its category,
    hard constraints (numbers, values, negations, "cheap", "recent", "for my 8-year-old") go to
    the vector search as filters, so every item listed satisfies them; the rest of the words
    (never a negated one) make the query vector, blended with the user's interest vector
    (``SEARCH_QUERY_WEIGHT``) when a user is given. Context words ("tonight", "rainy") join
    the request's context. ``result.intent`` holds what was understood; if the request cannot
    be understood, it is searched as plain text and ``result.reason`` says so. The query is
    remembered in the user's ``recent_queries``. A user who turned personalisation off is
    searched for like a visitor.
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
    intent, understood = understand(query, tenant.pk)
    context = {**intent.context, **request_context(context)}
    parsed = _parsed_query(intent)
    if profile is not None and remember:
        _remember_query(profile, query)
    timer.lap("parse")

    version = serving_state(tenant.pk).version
    constraints = intent.constraints
    common = dict(k=k, version=version, timer=timer, context=context, constraints=constraints)
    if version is None:
        return _with_intent(popular_list(tenant, reason="no active embedding version", **common), parsed, intent)
    try:
        text = vector_text(intent)
        vector = np.asarray(embedding.encoder_for(version).encode([text])[0], dtype=np.float32)
        if vector.shape != (version.dimension,):
            raise ValueError(f"encoder gives vectors of shape {vector.shape}, the version holds {version.dimension}-d")
        if not np.all(np.isfinite(vector)):
            raise ValueError("encoder gives a vector that is not finite")
    except Exception as exc:  # noqa: BLE001 - any encoder trouble means: answer from popularity
        logger.warning("Encoding the query failed for tenant %s: %s", tenant.slug, exc)
        result = popular_list(tenant, reason=f"the encoder failed ({type(exc).__name__}: {exc})", **common)
        return _with_intent(result, parsed, intent)
    weight = float(llmrec_settings.SEARCH_QUERY_WEIGHT)
    n = k + int(llmrec_settings.CANDIDATES_PER_SOURCE) // 4
    try:
        user_vec = vectorstore.user_vector(version, profile.pk) if profile is not None else None
        vector = normalise(vector) if normalise(vector) is not None else vector
        if user_vec is not None and weight < 1:
            blended = normalise(weight * vector + (1 - weight) * user_vec)
            vector = vector if blended is None else blended
        timer.lap("encode")
        found = vectorstore.nearest_items(version, vector, n, constraints=constraints)
    except vectorstore.READ_ERRORS as exc:
        return _with_intent(vectors_failed_list(tenant, exc, **common), parsed, intent)
    ids = [nb.item_id for nb in found]
    items = serving_data.load_items(tenant.pk, ids)

    def explanation(item_id: int) -> str:
        return met_explanation(constraints, items.get(item_id)) or f'Matches "{query}"'

    recs = finish_list(
        tenant,
        ids,
        np.array([nb.score for nb in found]),
        [("search",)] * len(ids),
        explanation,
        items,
        k=k,
        context=context,
        category=None,
        attributes=None,
        exclude=set(),
        constraints=constraints,
    )
    timer.lap("search")
    result = RecommendationList(items=recs, source="search", version_id=version.pk, k=k, timings_ms=timer.done())
    if not understood:
        result.reason = "the request could not be understood; searched as plain text"
    elif not recs and constraints:
        result.reason = f"no item satisfies all of: {intent.describe()}"
    return _with_intent(result, parsed, intent)


# Requests understood lately, per process: the same words against the same schema read the same.
UNDERSTOOD_CACHED = 2048
_understood: OrderedDict[tuple, Intent] = OrderedDict()
_understood_lock = threading.Lock()


@caches.register
def _forget_understood() -> None:
    with _understood_lock:
        _understood.clear()


def understand(text: str, tenant_id: int) -> tuple[Intent, bool]:
    """The intent of ``text`` for the tenant's catalogue, and whether it could be understood (a
    failing parser leaves plain text: no constraints, the words as they are). Repeated requests
    are answered from a per-process cache while the tenant's schema is the same."""
    try:
        schema = serving_data.catalogue_schema(tenant_id)
        key = (tenant_id, schema.stamp, text)
        with _understood_lock:
            cached = _understood.get(key)
            if cached is not None:
                _understood.move_to_end(key)
                return cached, True
        intent = parse_intent(text, schema)
    except Exception:  # noqa: BLE001 - a request is still answered, as plain text
        logger.exception("Could not understand a request for tenant %s; searching it as plain text.", tenant_id)
        return Intent(text=text, soft_text=text), False
    with _understood_lock:
        _understood[key] = intent
        while len(_understood) > UNDERSTOOD_CACHED:
            _understood.popitem(last=False)
    return intent, True


def vector_text(intent: Intent) -> str:
    """What the query vector is made of: the soft words and the values asked for (never the
    ones the request excludes: "nothing scary" must not pull towards scary)."""
    wanted = [str(v) for c in intent.constraints if c.op == "in" for v in c.value[:3]]
    text = " ".join(dict.fromkeys([intent.soft_text, *wanted])).strip()
    return text or intent.text


def _parsed_query(intent: Intent) -> ParsedQuery:
    """The intent's category and price ceiling in the older ``ParsedQuery`` shape (the API's
    ``query`` field)."""
    ceiling = [c for c in intent.constraints if c.attribute == "price" and c.op in ("<=", "<")]
    cheap = any(any(w in c.words for w in CHEAP_WORDS) for c in ceiling)
    return ParsedQuery(
        text=intent.text,
        max_price=None if not ceiling or cheap else float(ceiling[0].value),
        cheap=cheap,
        category=intent.category,
        matched=tuple(c.words for c in intent.constraints),
    )


def _with_intent(result: RecommendationList, parsed: ParsedQuery, intent: Intent) -> RecommendationList:
    result.query = parsed
    result.intent = intent
    return result
