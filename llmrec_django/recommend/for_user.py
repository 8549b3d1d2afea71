"""The recommend service: one place that the REST API, template tags, the admin preview and the
offline evaluation all call.

Usage::

    from llmrec_django.recommend.for_user import recommend_for_user
    from llmrec_django.recommend.similar import similar_items
    from llmrec_django.recommend.text_search import search

    result = recommend_for_user("user-005", k=5, context={"device": "mobile", "time_of_day": "evening"})
    result.source                 # "hybrid", or "fallback:popularity" (then result.reason says why)
    for rec in result.items:
        rec.title, rec.score, rec.sources, rec.explanation
    similar_items("film-012", k=5)
    search("cheap trail running shoes", user="user-005", k=5)

A list for a user is built in these steps (the maths lives in ``llmrec_django.core.ranking``):

1. Candidates from seven sources, each ``{item_id: score}``: pgvector ANN on the user's interest
   vector in the active embedding version (iterative index scans, so filters never under-fill),
   collaborative filtering (the tenant's stored model: ALS factors, and item-KNN neighbours of the
   items the user likes now), knowledge-graph neighbours of what the user liked, time-decayed
   popularity, and what comes next after the user's latest items (transitions and the sequential
   model: ``catalogue/sequences.py``); plus, for the list's new-item places, the new items (no collaborative evidence)
   closest to what the user liked (``recommend/new_items.py``); merged with ``merge_candidates``.
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
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import scipy.special

from llmrec_django.catalogue import collaborative, embedding, sequences
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.core.interest import normalise
from llmrec_django.core.strategy import DEFAULT_STRATEGY, Strategy
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.database.reads import fetch
from llmrec_django.database.routing import reads_from_serving_database
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import EmbeddingVersion, RankingModel, Tenant, UserProfile, time_of_day
from llmrec_django.recommend import explain, exploration, new_items, reranker, stated_interests
from llmrec_django.recommend.lists import (
    PERSONALISATION_OFF,
    SOURCE_NAMES,
    RecommendationList,
    Timer,
    clamp_k,
    finish_list,
    passes_filters,
    popular_list,
    resolve_user,
    vectors_failed_list,
)
from llmrec_django.recommend.rules import request_context
from llmrec_django.recommend.state import serving_state, usable_blend
from llmrec_django.recommend.threads import limit_blas_threads

logger = logging.getLogger(__name__)


def current_blend(tenant_id: int, model_id: int | None = None) -> tuple[int, ranking.BlendModel] | None:
    """The tenant's latest fitted blend (or its blend ``model_id``), if the service can use it."""
    if model_id is None:
        return serving_state(tenant_id).blend
    record = RankingModel.objects.filter(tenant_id=tenant_id, pk=model_id).values_list("pk", "model").first()
    model = usable_blend(*record) if record else None
    return (record[0], model) if model is not None else None


# ---------------------------------------------------------------------------------------------
# For a user


def _context_vector(
    user_vector: np.ndarray,
    history: serving_data.History,
    context: Mapping[str, Any],
    vectors: Mapping[int, np.ndarray],
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


@reads_from_serving_database
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
    timer = Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    k = clamp_k(k)
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
    timer: Timer,
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
        return popular_list(
            tenant, reason=PERSONALISATION_OFF, k=k, version=serving_state(tenant.pk).version, timer=timer,
            context=context, category=category, attributes=attributes, exclude={int(i) for i in exclude},
        )  # fmt: skip
    consumed_types = llmrec_settings.EXCLUDE_CONSUMED_EVENT_TYPES if exclude_consumed else ()
    recent = llmrec_settings.EXCLUDE_RECENT_EVENTS if exclude_consumed else None
    version = _serving_version(tenant, strategy)
    common = dict(k=k, version=version, timer=timer, context=context, category=category, attributes=attributes)
    if version is None:
        (history,) = fetch(serving_data.history_read(profile.pk, consumed_types, recent))
        consumed = set(history.consumed) | {int(i) for i in exclude}
        return popular_list(tenant, reason="no active embedding version", exclude=consumed, **common)
    try:
        return _hybrid_list(
            profile, tenant, version, timer, k=k, category=category, attributes=attributes, context=context,
            exclude_consumed=exclude_consumed, mmr_lambda=mmr_lambda, exclude=exclude, strategy=strategy,
        )  # fmt: skip
    except vectorstore.READ_ERRORS as exc:
        # Read again: the failed round trip may have been the one that held the history.
        consumed = set(serving_data.load_history(profile.pk, consumed_types, recent).consumed) | {
            int(i) for i in exclude
        }
        return vectors_failed_list(tenant, exc, exclude=consumed, **common)


def _hybrid_list(
    profile: UserProfile,
    tenant: Tenant,
    version: EmbeddingVersion,
    timer: Timer,
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
    recent = llmrec_settings.EXCLUDE_RECENT_EVENTS if exclude_consumed else None
    history, user_vec = fetch(
        serving_data.history_read(profile.pk, consumed_types, recent), vectorstore.user_vector_read(version, profile.pk)
    )
    exclude = set(history.consumed) | {int(i) for i in exclude}
    timer.lap("history")

    common = dict(
        k=k, version=version, timer=timer, context=context, category=category, attributes=attributes, exclude=exclude
    )
    sources = set(strategy.sources or SOURCE_NAMES)
    if user_vec is None and (history.events or (profile.profile_text or "").strip()):
        # A user with words or events but no vector yet (just signed up: the refresh is queued):
        # made now, so the first list already reflects them.
        embedding.refresh_users(tenant.pk, [profile.pk])
        (user_vec,) = fetch(vectorstore.user_vector_read(version, profile.pk))
    if user_vec is None:
        return popular_list(tenant, reason="no interest vector for this user yet", **common)

    n = int(llmrec_settings.CANDIDATES_PER_SOURCE)
    liked = history.liked
    recent_liked = list(dict.fromkeys(e[0] for e in history.events if liked.get(e[0], 0) > 0))
    liked_vectors, (liked_edges, labels) = fetch(
        vectorstore.item_vectors_read(version, recent_liked[: serving_data.RECENT_LIKED_ITEMS], cached=True),
        serving_data.item_entity_edges_read(liked),
    )
    # Most recent first, as their users below expect (the read returns them in table order).
    liked_vectors = {i: liked_vectors[i] for i in recent_liked[: serving_data.RECENT_LIKED_ITEMS] if i in liked_vectors}
    entity_weights = ranking.user_entity_weights(liked, liked_edges)
    query_vec = _context_vector(user_vec, history, context, liked_vectors)
    search = vectorstore.nearest_items_read(
        version, query_vec, n if "vector" in sources else 0, exclude_item_ids=sorted(exclude), category=category,
        with_vectors=True,
    )  # fmt: skip
    # The interests the user named, each searched on its own while their behaviour is thin.
    stated = stated_interests.for_profile(profile, version) if "vector" in sources else None
    stated_leads = stated is not None and len(liked_vectors) < int(llmrec_settings.STATED_INTERESTS_LEAD_UNTIL_LIKED)
    per_interest = max(5, n // len(stated.phrases)) if stated_leads else 0
    interest_searches = [
        vectorstore.nearest_items_read(
            version, vector, per_interest, exclude_item_ids=sorted(exclude), category=category, with_vectors=True
        )
        for vector in (stated.vectors if stated_leads else ())
    ]
    kg_exclude = exclude | set(liked) if exclude_consumed else exclude
    found, kg, *by_interest = fetch(
        search,
        serving_data.kg_candidates_read(tenant.pk, entity_weights, n if "kg" in sources else 0, kg_exclude),
        *interest_searches,
    )
    ann = {nb.item_id: nb.score for nb in found}
    found_by: dict[int, int] = {}  # item -> the stated interest whose search found it best
    match: dict[int, float] = {}
    for index, neighbours in enumerate(by_interest):
        best = max((nb.score for nb in neighbours), default=0.0)
        for nb in neighbours:
            ann[nb.item_id] = max(ann.get(nb.item_id, nb.score), nb.score)
            # An item matches an interest when it is about as close to it as its best match (a
            # small catalogue's whole contents come back from every search).
            if nb.score >= stated_interests.MATCH_SHARE * best and nb.score > match.get(nb.item_id, -2.0):
                found_by[nb.item_id], match[nb.item_id] = index, nb.score
    found = [*found, *(nb for neighbours in by_interest for nb in neighbours)]
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
    # The order of what the user did: what usually comes next (transitions) and the sequential model.
    seq_models = cf_model.sequences if cf_model else None
    seq_items, seq_times = sequences.from_history(history.events) if seq_models else ([], [])
    seq_all = seq_models.sequential_vector(seq_models.user_vector(seq_items, seq_times)) if seq_models else None
    trans_all = seq_models.transition_vector(seq_items[::-1]) if seq_models else None
    following = seq_models.sequential_recommend(seq_all, n, exclude) if seq_models and "sequential" in sources else {}
    after = seq_models.transition_recommend(trans_all, n, exclude) if seq_models and "transition" in sources else {}
    popular_all = serving_data.popularity(tenant.pk)
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

    ids, _, proposed = ranking.merge_candidates(ann, cf, knn, kg, popular, fresh, following, after, names=SOURCE_NAMES)
    # Vectors and edges of every merged candidate, read with the rows that filter them: a few
    # more than needed, one round trip fewer.
    candidate_vectors = {nb.item_id: nb.vector for nb in found}  # read with the search
    items, more_vectors, (candidate_edges, candidate_labels) = fetch(
        serving_data.items_read(tenant.pk, list(ids) + list(liked) + seq_items[-10:]),
        vectorstore.item_vectors_read(version, [i for i in ids if i not in candidate_vectors], cached=True),
        serving_data.item_entity_edges_read(ids),
    )
    keep = [
        j
        for j, i in enumerate(ids)
        if i in items and i not in exclude and passes_filters(items[i], category, attributes)
    ]
    ids = [ids[j] for j in keep]
    proposed = [proposed[j] for j in keep]
    if not ids:
        return popular_list(tenant, reason="no candidates passed the filters", **common)

    candidate_vectors.update(more_vectors)
    candidate_vectors = {i: candidate_vectors[i] for i in ids if i in candidate_vectors}
    no_vector = np.zeros(len(query_vec), dtype=np.float32)
    matrix = np.stack([candidate_vectors.get(i, no_vector) for i in ids])
    cosine = matrix @ query_vec
    labels.update(candidate_labels)
    kg_weight, best_entity = serving_data.kg_weights(
        entity_weights, candidate_edges, ids, float(llmrec_settings.KG_CAP), labels
    )
    cf_scores = cf_model.score_items(profile.pk, ids) if cf_model else np.zeros(len(ids))
    knn_scores = cf_model.neighbour_scores(liked, ids, vector=knn_vector) if cf_model else None
    known = cf_model.knows_items(ids) if cf_model else None
    pop_scores = np.array([popular_all.get(i, 0.0) for i in ids])
    liked_matrix = np.stack(list(liked_vectors.values())) if liked_vectors else np.zeros((0, len(query_vec)))
    liked_matrix = liked_matrix[: int(llmrec_settings.CLOSEST_LIKED_RECENT)]
    if stated is not None:  # a named interest counts as a taste, as a liked item does
        liked_matrix = np.vstack([liked_matrix, stated.vectors])
    features = ranking.hybrid_features(
        cosine, kg_weight, cf_scores, pop_scores, item_knn=knn_scores, known=known,
        closest_liked=ranking.closest_liked_similarity(matrix, liked_matrix),
        sequential=seq_models.sequential_scores(seq_all, ids) if seq_models else None,
        transition=seq_models.transition_scores(trans_all, ids) if seq_models else None,
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
        if stated_leads and item_id in found_by:
            return f'Matches "{stated.phrases[found_by[item_id]]}" from your interests'
        if item_id in newcomers:
            source = closest_liked(candidate_vectors.get(item_id), item_id)
            if source is not None:
                return f'New here, and close to "{titles.get(source, "an item")}" you {explain.verb(history.strongest_event.get(source))}'
            return "New here, and close to your interests"
        if best_entity[j] is not None and kg_weight[j] > 1.0:
            text = explain.kg_explanation(
                best_entity[j], labels, liked_edges, liked, titles, history.strongest_event, candidate=item_id
            )
        # What people go on to after the user's latest items: the most specific reason there is.
        if text is None and "transition" in proposed[j] and seq_models is not None:
            source = seq_models.transition_source(seq_items[::-1], item_id)
            if source is not None:
                text = f'Often chosen next after "{titles.get(source, "an item")}" you {explain.verb(history.strongest_event.get(source))}'
        if text is None and "vector" in proposed[j]:
            source = closest_liked(candidate_vectors.get(item_id), item_id)
            if source is not None:
                text = f'Similar to "{titles.get(source, "an item")}" you {explain.verb(history.strongest_event.get(source))}'
            else:
                text = "Matches the interests in your profile"
        if text is None and "item_knn" in proposed[j]:
            source = cf_model.strongest_neighbour(liked, item_id) if cf_model else None
            if source is not None and source != item_id:
                text = f'People who liked "{titles.get(source, "an item")}" also liked this'
        if text is None and "sequential" in proposed[j] and seq_items:
            text = f'Follows on from what you did lately, after "{titles.get(seq_items[-1], "an item")}"'
        if text is None and "collaborative" in proposed[j]:
            text = "Liked by people with tastes like yours"
        return text or popular_all.label(item_id)

    reranker_path, reranker_run_id = reranker.model_for(tenant) if strategy.reranker is not False else (None, None)
    if reranker_path:  # the trained CTR re-ranker, when one is active
        scores = reranker.rerank(tenant, profile, ids, scores, path=reranker_path)
    if stated_leads:  # each named interest's best match in turn, then the next best of each
        order = stated.interleave([ids[j] for j in np.argsort(-scores, kind="stable")], found_by, match)
        rank = {item_id: r for r, item_id in enumerate(order)}
        scores = np.array([1.0 - rank[i] / (len(order) + 1) for i in ids])
    explore = exploration.picks(tenant.pk, ids, scores, slots=strategy.exploration_slots, skip=k)
    recs = finish_list(
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
        # Taking the named interests in turn is the list's diversity: MMR would let an item of
        # no interest in ahead of a second match for one (unless the caller asks for MMR).
        mmr_lambda=mmr_lambda if mmr_lambda is not None else 1.0 if stated_leads else strategy.mmr_lambda,
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
