"""The recommend service: one place that the REST API, template tags, the admin preview and the
offline evaluation all call.

Usage::

    from llmrec_django.recommend import recommend_for_user, similar_items, search

    result = recommend_for_user("user-005", k=5, context={"device": "mobile", "time_of_day": "evening"})
    result.source                 # "hybrid", or "fallback:popularity" (then result.reason says why)
    for rec in result.items:
        rec.title, rec.score, rec.sources, rec.explanation
    similar_items("film-012", k=5)
    search("cheap trail running shoes", user="user-005", k=5)

A list for a user is built in these steps (the maths lives in ``llmrec_django.core.ranking``):

1. Candidates from five sources, each ``{item_id: score}``: pgvector ANN on the user's interest
   vector in the active embedding version (iterative index scans, so filters never under-fill),
   collaborative filtering (the tenant's stored model: ALS factors, and item-KNN neighbours of the
   items the user likes now), knowledge-graph neighbours of what the user liked, and time-decayed
   popularity; plus, for the list's new-item places, the new items (no collaborative evidence)
   closest to what the user liked (``recommending/new_items.py``); merged with ``merge_candidates``.
2. Features per candidate (``hybrid_features``): ``cos(u, i) * R_ui`` with R_ui the KG relation
   weight, the ALS and item-KNN scores, popularity, ``cos * R`` again for items without
   collaborative evidence, and the cosine to the closest of the user's recently liked items;
   scored by the tenant's latest fitted blend (``llmrec_fit``), else by ``cos * R`` alone.
3. Filters (inactive, consumed, category, attributes), business rules in the request's context
   (``apply_rules``: boost, bury, pin, block), diversity by MMR, the best-matching new item in
   the last place(s) (``NEW_ITEM_SLOTS``), then k.

It never fails for want of a model: no active version, no user vector, an encoder error, or
vectors that cannot be read or searched (``vectorstore.READ_ERRORS``: a missing table or index,
a search past ``SEARCH_STATEMENT_TIMEOUT_MS``, a query vector that is not finite) all give the
popularity list, with ``source="fallback:popularity"`` and a reason.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

from llmrec_django import collaborative, vectorstore
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.core.interest import normalise
from llmrec_django.models import EmbeddingVersion, Item, RankingModel, Tenant, UserProfile, time_of_day
from llmrec_django.online import exploration
from llmrec_django.query_parsing import ParsedQuery, parse_query
from llmrec_django.reads import fetch
from llmrec_django.recommending import data, explain, new_items
from llmrec_django.recommending.rules import active_rules, request_context, rule_effects
from llmrec_django.recommending.state import serving_state, usable_blend
from llmrec_django.recommending.strategy import DEFAULT_STRATEGY, Strategy
from llmrec_django.recommending.threads import limit_blas_threads
from llmrec_django.tenancy import resolve_tenant
from llmrec_django.training import reranker

logger = logging.getLogger(__name__)

SOURCE_NAMES = ("vector", "collaborative", "item_knn", "kg", "popularity", "new_items")
FALLBACK = "fallback:popularity"
PERSONALISATION_OFF = "personalisation is off for this user"


class UnknownUser(LookupError):
    """No user profile with this external id in the tenant."""


class UnknownItem(LookupError):
    """No item with this external id in the tenant."""


@dataclass
class Recommendation:
    item_id: int
    external_id: str
    title: str
    score: float
    sources: tuple[str, ...]
    explanation: str


@dataclass
class RecommendationList:
    items: list[Recommendation]
    source: str  # "hybrid", "similar", "search" or "fallback:popularity"
    version_id: int | None
    k: int
    reason: str | None = None  # why a fallback was used
    ranking_model_id: int | None = None  # the blend that scored the list, if any
    timings_ms: dict[str, float] = field(default_factory=dict)
    query: ParsedQuery | None = None  # search only: the constraints read from the query
    reranker_run_id: int | None = None  # the re-ranker's training run, when one re-ordered the list
    strategy: str = "default"  # the experiment arm's name when an arm served the list
    copy_generator: str | None = None  # the arm's copy generator (dotted path), if it names one
    # Set by ``llmrec_django.online`` when the list is served (logged) rather than only computed:
    list_id: str | None = None
    experiment: str | None = None
    arm: str | None = None

    @property
    def explored_positions(self) -> list[int]:
        """1-based positions of the items that exploration put in the list."""
        return [p for p, r in enumerate(self.items, start=1) if "explore" in r.sources]

    @property
    def item_ids(self) -> list[int]:
        return [r.item_id for r in self.items]

    @property
    def external_ids(self) -> list[str]:
        return [r.external_id for r in self.items]


class _Timer:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self.last) * 1000, 2)
        self.last = now

    def done(self) -> dict[str, float]:
        self.laps["total"] = round((time.perf_counter() - self.started) * 1000, 2)
        return self.laps


class _Fallback(Exception):
    """Internal: switch to the popularity list, with a reason."""


# ---------------------------------------------------------------------------------------------
# Arguments


def _clamp_k(k: int | None) -> int:
    k = int(llmrec_settings.DEFAULT_K if k is None else k)
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}.")
    return min(k, int(llmrec_settings.MAX_K))


def _resolve(model: type, ref: Any, tenant: Tenant, error: type[LookupError], noun: str) -> Any:
    """A user profile or item of ``tenant`` from an instance or an external id."""
    if isinstance(ref, model):
        if ref.tenant_id != tenant.pk:
            raise error(f"{noun.capitalize()} {ref.external_id!r} belongs to another tenant.")
        return ref
    found = model.objects.by_external_id(tenant, str(ref))
    if found is None:
        raise error(f"No {noun} {ref!r} in tenant {tenant.slug!r}.")
    return found


def resolve_user(user: UserProfile | str, tenant: Tenant) -> UserProfile:
    return _resolve(UserProfile, user, tenant, UnknownUser, "user")


def resolve_item(item: Item | str, tenant: Tenant) -> Item:
    return _resolve(Item, item, tenant, UnknownItem, "item")


def _passes(row: data.ItemRow, category: str | None, attributes: Mapping[str, Any] | None) -> bool:
    if not row.is_active:
        return False
    if category and row.category.lower() != category.lower():
        return False
    for key, wanted in (attributes or {}).items():
        if (row.attributes or {}).get(key) != wanted:
            return False
    return True


def current_blend(tenant_id: int, model_id: int | None = None) -> tuple[int, ranking.BlendModel] | None:
    """The tenant's latest fitted blend (or its blend ``model_id``), if the service can use it."""
    if model_id is None:
        return serving_state(tenant_id).blend
    record = RankingModel.objects.filter(tenant_id=tenant_id, pk=model_id).values_list("pk", "model").first()
    model = usable_blend(*record) if record else None
    return (record[0], model) if model is not None else None


# ---------------------------------------------------------------------------------------------
# Final steps shared by every list: rules, diversity, k, explanations


def _finish(
    tenant: Tenant,
    ids: list[int],
    scores: np.ndarray,
    proposed: list[tuple[str, ...]],
    explanations: Mapping[int, str] | Callable[[int], str],
    items: dict[int, data.ItemRow],
    *,
    k: int,
    context: Mapping[str, Any],
    category: str | None,
    attributes: Mapping[str, Any] | None,
    exclude: set[int],
    vectors: Mapping[int, np.ndarray] | None = None,
    mmr_lambda: float | None = None,
    new_candidates: Sequence[int] = (),
    new_here: Collection[int] = frozenset(),
    explore: Sequence[int] = (),
) -> list[Recommendation]:
    """Rules, MMR, then k. ``new_candidates``: new items (``recommending/new_items.py``), best
    first, of which up to ``NEW_ITEM_SLOTS`` take the last places of the list unless it already
    holds that many items from ``new_here`` (every new item among the candidates). ``explore``:
    under-exposed items that take the very last places (``llmrec_django.online.exploration``)."""
    rules = active_rules(tenant.pk, context)
    score_of = dict(zip(ids, scores.tolist(), strict=True))
    sources_of = dict(zip(ids, proposed, strict=True))
    effects = rule_effects(rules, items, score_of)
    forced = [i for i in effects.pin if i not in items]
    if forced:
        items.update(data.load_items(tenant.pk, forced))
    # A pinned item still has to be one of this tenant's active items that passes the filters.
    pin = {
        i: p
        for i, p in effects.pin.items()
        if i in items and _passes(items[i], category, attributes) and i not in exclude
    }
    ids, adjusted = ranking.apply_rules(ids, scores, boost=effects.boost, block=effects.block)
    adjusted_of = dict(zip(ids, adjusted.tolist(), strict=True))
    kept = [i for i in ids if i not in effects.bury and i not in pin]
    buried = [i for i in ids if i in effects.bury and i not in pin]
    pool = set(kept)
    if vectors is not None and len(kept) > 1:
        lam = float(llmrec_settings.MMR_LAMBDA if mmr_lambda is None else mmr_lambda)
        no_vector = np.zeros(len(next(iter(vectors.values()))) if vectors else 1, dtype=np.float32)
        matrix = np.stack([vectors.get(i, no_vector) for i in kept])
        picked, _ = ranking.mmr(kept, [adjusted_of[i] for i in kept], matrix, k=min(len(kept), k), lambda_=lam)
        kept = [int(i) for i in picked]
    slots = int(llmrec_settings.NEW_ITEM_SLOTS)
    newcomers: list[int] = []
    if slots > 0 and new_candidates:
        head = kept[: k - len(pin)]
        missing = slots - sum(1 for i in head if i in new_here)
        newcomers = [i for i in new_candidates if i in pool and i not in head][: max(0, missing)]
        if newcomers:
            head = head[: max(0, len(head) - len(newcomers))] + newcomers
            kept = head + [i for i in kept if i not in head]
    explorers: list[int] = []
    if explore:
        head = kept[: k - len(pin)]
        explorers = [i for i in explore if i in pool and i not in head and i not in newcomers][: len(head) // 2]
        if explorers:
            head = head[: len(head) - len(explorers)] + explorers
            kept = head + [i for i in kept if i not in head]
    ordered = kept + buried
    # Monotone stand-in scores keep the MMR order through apply_rules, which then only places pins.
    final, _ = ranking.apply_rules(ordered, np.arange(len(ordered), 0, -1, dtype=np.float64), pin=pin, k=k)
    if callable(explanations):  # worked out for the k items shown only
        explain_one = explanations
    else:

        def explain_one(item_id: int) -> str:
            return explanations.get(item_id, "Recommended for you")

    result = []
    for item_id in final:
        row = items[item_id]
        pinned_only = item_id not in sources_of
        score = adjusted_of.get(item_id, score_of.get(item_id, 0.0))
        result.append(
            Recommendation(
                item_id=item_id,
                external_id=row.external_id,
                title=row.title,
                score=float(score) if np.isfinite(score) else 0.0,
                sources=tuple(sources_of.get(item_id, ()))
                + (("rule:pin",) if item_id in pin else ())
                + (("new_item",) if item_id in newcomers else ())
                + (("explore",) if item_id in explorers else ()),
                explanation="Featured" if pinned_only else explain_one(item_id),
            )
        )
    return result


# ---------------------------------------------------------------------------------------------
# Popularity fallback


def _popular_list(
    tenant: Tenant,
    *,
    k: int,
    reason: str,
    version: EmbeddingVersion | None,
    timer: _Timer,
    context: Mapping[str, Any],
    category: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    exclude: set[int] = frozenset(),
    max_price: float | None = None,
) -> RecommendationList:
    """Time-decayed popularity, filtered, with rules; fills up with the newest items if needed."""
    popular = data.popularity(tenant.pk)
    wanted = k + len(exclude) + int(llmrec_settings.CANDIDATES_PER_SOURCE)
    candidate_ids = [i for i in popular if i not in exclude]
    items = data.load_items(tenant.pk, candidate_ids[: max(wanted * 3, 200)])

    def ok(row: data.ItemRow) -> bool:
        if not _passes(row, category, attributes):
            return False
        if max_price is not None:
            price = (row.attributes or {}).get("price")
            return isinstance(price, int | float) and price <= max_price
        return True

    chosen = [i for i in candidate_ids if i in items and ok(items[i])][:wanted]
    if len(chosen) < k:
        extra = data.newest_items(tenant.pk, wanted, set(chosen) | exclude, category)
        items.update(data.load_items(tenant.pk, extra))
        chosen += [i for i in extra if ok(items[i])]
    scores = np.array([popular.get(i, 0.0) for i in chosen], dtype=np.float64)
    explanations = {i: "Popular this week" if popular.get(i, 0) > 0 else "New in the catalogue" for i in chosen}
    timer.lap("candidates")
    recs = _finish(
        tenant,
        chosen,
        scores,
        [("popularity",)] * len(chosen),
        explanations,
        items,
        k=k,
        context=context,
        category=category,
        attributes=attributes,
        exclude=set(exclude),
    )
    return RecommendationList(
        items=recs,
        source=FALLBACK,
        reason=reason,
        version_id=version.pk if version else None,
        k=k,
        timings_ms=timer.done(),
    )


def popular_items(
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    category: str | None = None,
    context: Mapping[str, Any] | None = None,
    reason: str = "no user given",
) -> RecommendationList:
    """The popularity list (time-decayed, with the rules of ``context``): what anonymous visitors
    see. ``source`` is ``fallback:popularity`` with ``reason``."""
    timer = _Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant)
    k = _clamp_k(k)
    version = serving_state(tenant.pk).version
    return _popular_list(
        tenant, reason=reason, k=k, version=version, timer=timer, context=request_context(context), category=category
    )


def _vectors_failed(tenant: Tenant, exc: Exception, **common: Any) -> RecommendationList:
    """The popularity list for a request whose vectors could not be read or searched
    (``vectorstore.READ_ERRORS``: a missing or broken table or index, the search's statement
    timeout, a bad query vector)."""
    logger.warning("Vector search failed for tenant %s: %s", tenant.slug, exc)
    return _popular_list(tenant, reason=f"vector search failed ({type(exc).__name__})", **common)


# ---------------------------------------------------------------------------------------------
# For a user


def _context_vector(
    user_vector: np.ndarray, history: data.History, context: Mapping[str, Any], vectors: Mapping[int, np.ndarray]
) -> np.ndarray:
    """The interest vector leaning toward what the user did in the same context (device, time of
    day, location): a phone user in the evening gets more of what they chose on phones in evenings."""
    weight = float(llmrec_settings.CONTEXT_WEIGHT)
    if weight <= 0:
        return user_vector
    matching = []
    for item_id, _type, _value, stamp, device, location in history.events:
        if history.item_weights.get(item_id, 0) <= 0 or item_id not in vectors:
            continue
        same = (context.get("device") and device and device.lower() == str(context["device"]).lower()) or (
            context.get("location") and location and location.lower() == str(context["location"]).lower()
        )
        if same or time_of_day(stamp.hour) == context.get("time_of_day"):
            matching.append(vectors[item_id])
    if not matching:
        return user_vector
    shift = normalise(np.mean(matching, axis=0))
    if shift is None:
        return user_vector
    combined = normalise((1 - weight) * user_vector + weight * shift)
    return user_vector if combined is None else combined


def recommend_for_user(
    user: UserProfile | str,
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    category: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    exclude_consumed: bool = True,
    mmr_lambda: float | None = None,
    exclude: Collection[int] = (),
    strategy: Strategy | None = None,
) -> RecommendationList:
    """The user's personalised list (see the module docstring for the steps).

    ``exclude``: more item ids to leave out, on top of the consumed ones (the offline evaluation
    masks the user's whole known history this way, whatever the event types). ``strategy``: an
    experiment arm's sources, blend, version, re-ranker, MMR lambda and exploration (default:
    as configured).
    """
    timer = _Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    k = _clamp_k(k)
    strategy = strategy or DEFAULT_STRATEGY
    profile = resolve_user(user, tenant)
    result = _recommend_for_user(
        profile, tenant, timer, k=k, category=category, attributes=attributes, context=context,
        exclude_consumed=exclude_consumed, mmr_lambda=mmr_lambda, exclude=exclude, strategy=strategy,
    )  # fmt: skip
    result.strategy = strategy.name
    result.copy_generator = strategy.copy_generator
    return result


def _serving_version(tenant: Tenant, strategy: Strategy) -> EmbeddingVersion | None:
    """The strategy's embedding version when it is one of the tenant's ready (or active) ones,
    else the active version."""
    if strategy.version_id is not None:
        version = EmbeddingVersion.objects.filter(
            pk=strategy.version_id,
            tenant=tenant,
            status__in=[EmbeddingVersion.Status.READY, EmbeddingVersion.Status.ACTIVE],
        ).first()
        if version is not None:
            return version
        logger.warning(
            "Strategy %r names embedding version %s, which is not a ready version of tenant %s; using the active one.",
            strategy.name,
            strategy.version_id,
            tenant.slug,
        )
    return serving_state(tenant.pk).version


def _recommend_for_user(
    profile: UserProfile,
    tenant: Tenant,
    timer: _Timer,
    *,
    k: int,
    category: str | None,
    attributes: Mapping[str, Any] | None,
    context: Mapping[str, Any] | None,
    exclude_consumed: bool,
    mmr_lambda: float | None,
    exclude: Collection[int],
    strategy: Strategy,
) -> RecommendationList:
    context = request_context(context)
    if not profile.personalisation_enabled:  # the same list as anyone's, nothing read about the user
        return _popular_list(
            tenant, reason=PERSONALISATION_OFF, k=k, version=serving_state(tenant.pk).version, timer=timer,
            context=context, category=category, attributes=attributes, exclude={int(i) for i in exclude},
        )  # fmt: skip
    consumed_types = llmrec_settings.EXCLUDE_CONSUMED_EVENT_TYPES if exclude_consumed else ()
    version = _serving_version(tenant, strategy)
    common = dict(k=k, version=version, timer=timer, context=context, category=category, attributes=attributes)
    if version is None:
        (history,) = fetch(data.history_read(profile.pk, consumed_types))
        consumed = set(history.consumed) | {int(i) for i in exclude}
        return _popular_list(tenant, reason="no active embedding version", exclude=consumed, **common)
    try:
        return _hybrid_list(
            profile, tenant, version, timer, k=k, category=category, attributes=attributes, context=context,
            exclude_consumed=exclude_consumed, mmr_lambda=mmr_lambda, exclude=exclude, strategy=strategy,
        )  # fmt: skip
    except vectorstore.READ_ERRORS as exc:
        # Read again: the failed round trip may have been the one that held the history.
        consumed = set(data.load_history(profile.pk, consumed_types).consumed) | {int(i) for i in exclude}
        return _vectors_failed(tenant, exc, exclude=consumed, **common)


def _hybrid_list(
    profile: UserProfile,
    tenant: Tenant,
    version: EmbeddingVersion,
    timer: _Timer,
    *,
    k: int,
    category: str | None,
    attributes: Mapping[str, Any] | None,
    context: Mapping[str, Any],
    exclude_consumed: bool,
    mmr_lambda: float | None,
    exclude: Collection[int],
    strategy: Strategy,
) -> RecommendationList:
    """The user's list from ``version``'s vectors and the other sources; raises
    ``vectorstore.READ_ERRORS`` when the vectors cannot be used (the caller falls back)."""
    # Four round trips (``reads.fetch``): history and user vector; the liked items' vectors and
    # KG edges; vector search and KG candidates; the merged candidates' rows, vectors and edges.
    consumed_types = llmrec_settings.EXCLUDE_CONSUMED_EVENT_TYPES if exclude_consumed else ()
    history, user_vec = fetch(
        data.history_read(profile.pk, consumed_types), vectorstore.user_vector_read(version, profile.pk)
    )
    exclude = set(history.consumed) | {int(i) for i in exclude}
    timer.lap("history")

    common = dict(
        k=k, version=version, timer=timer, context=context, category=category, attributes=attributes, exclude=exclude
    )
    sources = set(strategy.sources or SOURCE_NAMES)
    if user_vec is None:
        return _popular_list(tenant, reason="no interest vector for this user yet", **common)

    n = int(llmrec_settings.CANDIDATES_PER_SOURCE)
    liked = history.liked
    recent_liked = list(dict.fromkeys(e[0] for e in history.events if liked.get(e[0], 0) > 0))
    liked_vectors, (liked_edges, labels) = fetch(
        vectorstore.item_vectors_read(version, recent_liked[: data.RECENT_LIKED_ITEMS], cached=True),
        data.item_entity_edges_read(liked),
    )
    # Most recent first, as their users below expect (the read returns them in table order).
    liked_vectors = {i: liked_vectors[i] for i in recent_liked[: data.RECENT_LIKED_ITEMS] if i in liked_vectors}
    entity_weights = ranking.user_entity_weights(liked, liked_edges)
    query_vec = _context_vector(user_vec, history, context, liked_vectors)
    search = vectorstore.nearest_items_read(
        version, query_vec, n if "vector" in sources else 0, exclude_item_ids=sorted(exclude), category=category,
        with_vectors=True,
    )  # fmt: skip
    kg_exclude = exclude | set(liked) if exclude_consumed else exclude
    found, kg = fetch(
        search, data.kg_candidates_read(tenant.pk, entity_weights, n if "kg" in sources else 0, kg_exclude)
    )
    ann = {nb.item_id: nb.score for nb in found}
    timer.lap("vector")

    cf_record = serving_state(tenant.pk).collaborative
    cf_model = collaborative.current_model(tenant, record=cf_record)
    cf = cf_model.recommend(profile.pk, n, exclude=exclude) if cf_model and "collaborative" in sources else {}
    knn_vector = cf_model.neighbour_vector(liked) if cf_model else None
    knn = (
        cf_model.neighbour_recommend(liked, n, exclude=exclude, vector=knn_vector)
        if cf_model and "item_knn" in sources
        else {}
    )
    popular_all = data.popularity(tenant.pk)
    popular = (
        dict(itertools.islice(((i, s) for i, s in popular_all.items() if i not in exclude), n))
        if "popularity" in sources
        else {}
    )
    timer.lap("sources")
    slots = int(llmrec_settings.NEW_ITEM_SLOTS)
    pool = new_items.pool_for(tenant.pk, version, cf_record[0]) if cf_model and slots > 0 else None
    fresh = (
        new_items.candidates(pool, liked_vectors, exclude, slots * new_items.PROPOSALS_PER_SLOT)
        if pool is not None and "new_items" in sources
        else {}
    )
    timer.lap("new_items")

    ids, _, proposed = ranking.merge_candidates(ann, cf, knn, kg, popular, fresh, names=SOURCE_NAMES)
    # Vectors and edges of every merged candidate, read with the rows that filter them: a few
    # more than needed, one round trip fewer.
    candidate_vectors = {nb.item_id: nb.vector for nb in found}  # read with the search
    items, more_vectors, (candidate_edges, candidate_labels) = fetch(
        data.items_read(tenant.pk, list(ids) + list(liked)),
        vectorstore.item_vectors_read(version, [i for i in ids if i not in candidate_vectors], cached=True),
        data.item_entity_edges_read(ids),
    )
    keep = [j for j, i in enumerate(ids) if i in items and i not in exclude and _passes(items[i], category, attributes)]
    ids = [ids[j] for j in keep]
    proposed = [proposed[j] for j in keep]
    if not ids:
        return _popular_list(tenant, reason="no candidates passed the filters", **common)

    candidate_vectors.update(more_vectors)
    candidate_vectors = {i: candidate_vectors[i] for i in ids if i in candidate_vectors}
    no_vector = np.zeros(len(query_vec), dtype=np.float32)
    matrix = np.stack([candidate_vectors.get(i, no_vector) for i in ids])
    cosine = matrix @ query_vec
    labels.update(candidate_labels)
    kg_weight, best_entity = data.kg_weights(
        entity_weights, candidate_edges, ids, float(llmrec_settings.KG_CAP), labels
    )
    cf_scores = cf_model.score_items(profile.pk, ids) if cf_model else np.zeros(len(ids))
    knn_scores = cf_model.neighbour_scores(liked, ids, vector=knn_vector) if cf_model else None
    known = cf_model.knows_items(ids) if cf_model else None
    pop_scores = np.array([popular_all.get(i, 0.0) for i in ids])
    liked_matrix = np.stack(list(liked_vectors.values())) if liked_vectors else np.zeros((0, len(query_vec)))
    features = ranking.hybrid_features(
        cosine, kg_weight, cf_scores, pop_scores, item_knn=knn_scores, known=known,
        closest_liked=ranking.closest_liked_similarity(matrix, liked_matrix[: int(llmrec_settings.CLOSEST_LIKED_RECENT)]),
    )  # fmt: skip
    new_here = {i for i in ids if i in pool} if pool is not None else set()
    newcomers = new_items.rank(ids, new_here, candidate_vectors, liked_vectors)
    blend = None
    if strategy.blend_weights is not None:
        # Through the sigmoid, as a fitted blend's: the features are standardised within the list
        # (negative for below-average candidates), and rule boosts multiply non-negative scores.
        weights = np.array([strategy.blend_weights.get(f, 0.0) for f in ranking.HYBRID_FEATURES])
        scores = scipy.special.expit(features @ weights)
    else:
        blend = current_blend(tenant.pk, strategy.ranking_model_id)
        scores = blend[1].score(features) if blend else ranking.hybrid_scores(cosine, kg_weight)
    timer.lap("scoring")

    titles = {i: row.title for i, row in items.items()}
    position = {item_id: j for j, item_id in enumerate(ids)}
    closest_liked = explain.ClosestLiked(liked_vectors, liked)

    def explanation(item_id: int) -> str:
        j = position[item_id]
        text = None
        if item_id in newcomers:
            source = closest_liked(candidate_vectors.get(item_id))
            if source is not None:
                return f'New here, and close to "{titles.get(source, "an item")}" you {explain.verb(history.strongest_event.get(source))}'
            return "New here, and close to your interests"
        if best_entity[j] is not None and kg_weight[j] > 1.0:
            text = explain.kg_explanation(best_entity[j], labels, liked_edges, liked, titles, history.strongest_event)
        if text is None and "vector" in proposed[j]:
            source = closest_liked(candidate_vectors.get(item_id))
            if source is not None:
                text = f'Similar to "{titles.get(source, "an item")}" you {explain.verb(history.strongest_event.get(source))}'
            else:
                text = "Matches the interests in your profile"
        if text is None and "item_knn" in proposed[j]:
            source = cf_model.strongest_neighbour(liked, item_id) if cf_model else None
            if source is not None:
                text = f'People who liked "{titles.get(source, "an item")}" also liked this'
        if text is None and "collaborative" in proposed[j]:
            text = "Liked by people with tastes like yours"
        return text or "Popular this week"

    reranker_path, reranker_run_id = reranker.model_for(tenant) if strategy.reranker is not False else (None, None)
    if reranker_path:  # the trained CTR re-ranker, when one is active
        scores = reranker.rerank(tenant, profile, ids, scores, path=reranker_path)
    explore = exploration.picks(tenant.pk, ids, scores, slots=strategy.exploration_slots, skip=k)
    recs = _finish(
        tenant,
        ids,
        scores,
        proposed,
        explanation,
        items,
        k=k,
        context=context,
        category=category,
        attributes=attributes,
        exclude=exclude,
        vectors=candidate_vectors,
        mmr_lambda=mmr_lambda if mmr_lambda is not None else strategy.mmr_lambda,
        new_candidates=newcomers,
        new_here=new_here,
        explore=explore,
    )
    timer.lap("rules_mmr")
    return RecommendationList(
        items=recs,
        source="hybrid",
        version_id=version.pk,
        k=k,
        ranking_model_id=blend[0] if blend else None,
        reranker_run_id=reranker_run_id if reranker_path else None,
        timings_ms=timer.done(),
    )


# ---------------------------------------------------------------------------------------------
# Similar items


def similar_items(
    item: Item | str,
    *,
    tenant: Tenant | str | None = None,
    k: int | None = None,
    user: UserProfile | str | None = None,
) -> RecommendationList:
    """Items like ``item``: nearest vectors, KG neighbours and co-consumed items, scored by
    ``cos * R`` with R the KG weight from this item; a given user's consumed items are left out."""
    timer = _Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(item, "tenant", None))
    k = _clamp_k(k)
    anchor = resolve_item(item, tenant)
    profile = resolve_user(user, tenant) if user is not None else None
    exclude = {anchor.pk}
    if profile is not None:
        exclude |= data.load_history(profile.pk, llmrec_settings.EXCLUDE_CONSUMED_EVENT_TYPES).consumed
    context = request_context(None)
    version = serving_state(tenant.pk).version
    common = dict(k=k, version=version, timer=timer, context=context, exclude=exclude)
    if version is None:
        return _popular_list(tenant, reason="no active embedding version", category=anchor.category or None, **common)
    try:
        return _similar_list(anchor, tenant, version, timer, k=k, exclude=exclude, context=context)
    except vectorstore.READ_ERRORS as exc:
        return _vectors_failed(tenant, exc, **common)


def _similar_list(
    anchor: Item,
    tenant: Tenant,
    version: EmbeddingVersion,
    timer: _Timer,
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
        return _popular_list(tenant, reason="the item has no vector yet", category=anchor.category or None, **common)
    n = int(llmrec_settings.CANDIDATES_PER_SOURCE)
    ann = {
        nb.item_id: nb.score
        for nb in vectorstore.nearest_items(version, anchor_vec, n, exclude_item_ids=sorted(exclude))
    }
    anchor_edges, labels = data.item_entity_edges([anchor.pk])
    entity_weights = dict(anchor_edges.get(anchor.pk, {}))
    kg = data.kg_candidates(tenant.pk, entity_weights, n, exclude)
    cf_model = collaborative.current_model(tenant, record=serving_state(tenant.pk).collaborative)
    cf = {i: s for i, s in (cf_model.similar(anchor.pk, n) if cf_model else {}).items() if i not in exclude}
    ids, _, proposed = ranking.merge_candidates(ann, kg, cf, names=("vector", "kg", "collaborative"))
    items = data.load_items(tenant.pk, ids)
    keep = [j for j, i in enumerate(ids) if i in items and items[i].is_active]
    ids, proposed = [ids[j] for j in keep], [proposed[j] for j in keep]
    vectors = vectorstore.item_vectors(version, ids)
    cosine = np.array([float(vectors[i] @ anchor_vec) if i in vectors else 0.0 for i in ids])
    cosine /= float(np.linalg.norm(anchor_vec)) or 1.0
    norms = np.array([float(np.linalg.norm(vectors[i])) if i in vectors else 1.0 for i in ids])
    cosine /= np.where(norms > 0, norms, 1.0)
    candidate_edges, candidate_labels = data.item_entity_edges(ids)
    labels.update(candidate_labels)
    kg_weight, best_entity = data.kg_weights(
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
    recs = _finish(
        tenant, ids, scores, proposed, explanations, items,
        k=k, context=context, category=None, attributes=None, exclude=exclude,
    )  # fmt: skip
    return RecommendationList(items=recs, source="similar", version_id=version.pk, k=k, timings_ms=timer.done())


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
) -> RecommendationList:
    """Items matching a free-text query, in any language the encoder reads.

    The query's vector is blended with the user's interest vector (``SEARCH_QUERY_WEIGHT``) when a
    user is given; a price ceiling ("under $50", "50元以下"), "cheap" (bottom price tercile) and
    a category named in the query are applied as filters. The query is remembered in the user's
    ``recent_queries``. A user who turned personalisation off is searched for like a visitor.
    """
    timer = _Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    k = _clamp_k(k)
    if not query or not query.strip():
        raise ValueError("The search query is empty.")
    query = query.strip()
    profile = resolve_user(user, tenant) if user is not None else None
    if profile is not None and not profile.personalisation_enabled:
        profile = None  # searches like a visitor: no taste blended in, the query not remembered
    context = request_context(context)
    parsed = parse_query(query, data.categories(tenant.pk))
    max_price = parsed.max_price
    if max_price is None and parsed.cheap:
        max_price = data.cheap_price_ceiling(tenant.pk, parsed.category)
    if profile is not None:
        _remember_query(profile, query)
    timer.lap("parse")

    version = serving_state(tenant.pk).version
    common = dict(k=k, version=version, timer=timer, context=context, category=parsed.category, max_price=max_price)
    if version is None:
        return _with_query(_popular_list(tenant, reason="no active embedding version", **common), parsed)
    try:
        from llmrec_django.embedding import encoder_for

        vector = np.asarray(encoder_for(version).encode([query])[0], dtype=np.float32)
        if vector.shape != (version.dimension,):
            raise ValueError(f"encoder gives vectors of shape {vector.shape}, the version holds {version.dimension}-d")
        if not np.all(np.isfinite(vector)):
            raise ValueError("encoder gives a vector that is not finite")
    except Exception as exc:  # noqa: BLE001 - any encoder trouble means: answer from popularity
        logger.warning("Encoding the query failed for tenant %s: %s", tenant.slug, exc)
        result = _popular_list(tenant, reason=f"the encoder failed ({type(exc).__name__}: {exc})", **common)
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
        return _with_query(_vectors_failed(tenant, exc, **common), parsed)
    ids = [nb.item_id for nb in found]
    items = data.load_items(tenant.pk, ids)
    described = (
        parsed.describe() if max_price is None or parsed.max_price is not None else _cheap_words(parsed, max_price)
    )
    explanation = f'Matches "{query}"' + (f" ({described})" if described else "")
    recs = _finish(
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


# ---------------------------------------------------------------------------------------------
# For a query vector (conversations)


def recommend_for_vector(
    vector: np.ndarray,
    *,
    version: EmbeddingVersion,
    k: int | None = None,
    exclude: Collection[int] = (),
    category: str | None = None,
    max_price: float | None = None,
    context: Mapping[str, Any] | None = None,
    explanation: str = "Matches what you asked for",
    source: str = "conversation",
) -> RecommendationList:
    """The items of ``version`` nearest to ``vector`` (a conversation's query), with the usual
    filters, rules and diversity; the popularity list when nothing is near enough."""
    timer = _Timer()
    limit_blas_threads()
    tenant = version.tenant
    k = _clamp_k(k)
    exclude = {int(i) for i in exclude}
    context = request_context(context)
    common = dict(
        k=k, version=version, timer=timer, context=context, category=category, exclude=exclude, max_price=max_price
    )
    n = k + int(llmrec_settings.CANDIDATES_PER_SOURCE)
    try:
        found = vectorstore.nearest_items(
            version, vector, n, exclude_item_ids=sorted(exclude), category=category, max_price=max_price,
            with_vectors=True,
        )  # fmt: skip
    except vectorstore.READ_ERRORS as exc:
        return _vectors_failed(tenant, exc, **common)
    if not found:
        return _popular_list(tenant, reason="no item is near the query", **common)
    ids = [nb.item_id for nb in found]
    items = data.load_items(tenant.pk, ids)
    timer.lap("vector")
    recs = _finish(
        tenant,
        ids,
        np.array([nb.score for nb in found]),
        [(source,)] * len(ids),
        dict.fromkeys(ids, explanation),
        items,
        k=k,
        context=context,
        category=category,
        attributes=None,
        exclude=exclude,
        vectors={nb.item_id: nb.vector for nb in found},
    )
    timer.lap("rules_mmr")
    return RecommendationList(items=recs, source=source, version_id=version.pk, k=k, timings_ms=timer.done())


__all__: Sequence[str] = [
    "Recommendation",
    "RecommendationList",
    "UnknownItem",
    "UnknownUser",
    "current_blend",
    "recommend_for_user",
    "recommend_for_vector",
    "resolve_item",
    "resolve_user",
    "search",
    "similar_items",
]
