"""Scoring and re-ranking: candidates, the knowledge-graph weight, the learnt blend, MMR, rules.

A request for a user's list goes through these steps, each a plain function on arrays::

    from llmrec_django.core import ranking

    ids, by_source, sources = ranking.merge_candidates(ann, collaborative, kg, popular,
                                                       names=("ann", "collaborative", "kg", "popularity"))
    kg_weight = ranking.kg_relation_weight(user_entities, candidate_entities)   # R_ui, in [1, 1 + cap]
    closest = ranking.closest_liked_similarity(candidate_vectors, liked_item_vectors)
    features = ranking.hybrid_features(cosine, [kg_weight[i] for i in ids], als_score, trending,
                                       item_knn=knn_score, known=seen_by_collaborative_model,
                                       closest_liked=closest)
    scores = model.score(features)                  # model = fit_blend_weights(past features, clicks)
    ids, scores = ranking.mmr(ids, scores, vectors, k=50, lambda_=0.7)
    ids, scores = ranking.apply_rules(ids, scores, boost={...}, pin={"promo": 0}, block={...}, k=10)

The seed design scores a candidate by ``r_ui = cos(u, i) * R_ui``: the cosine between the user's
interest vector and the item's vector, raised by knowledge-graph paths from what the user liked
to the candidate. Here ``r_ui`` is one feature of a logistic-regression blend with collaborative
scores (ALS and item-KNN), popularity, a content-only score for new items and the similarity to
the closest liked item; with no trained model, ``hybrid_scores``' default weights rank by
``r_ui`` alone.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.special
import scipy.stats
from numpy.typing import ArrayLike

from llmrec_django.core.blend_model import (  # noqa: F401  (the blend's names, importable from here)
    BlendModel,
    component_ndcg,
    fit_blend_cross_fitted,
    fit_blend_weights,
    list_ndcg,
    log_loss,
    never_below_best_component,
    roc_auc,
)
from llmrec_django.core.interest import SECONDS_PER_DAY

# ---------------------------------------------------------------------------------------------
# Knowledge-graph relation weight R_ui

# How far knowledge-graph paths may raise a candidate: R_ui stays in [1, 1 + cap], so the KG at
# most doubles a cosine by default and can never outweigh it by an order of magnitude.
DEFAULT_KG_CAP = 1.0


def user_entity_weights(
    item_weights: Mapping[Hashable, float],
    item_entities: Mapping[Hashable, Mapping[Hashable, float]],
) -> dict[Hashable, float]:
    """The user's weight on each entity, through the items they interacted with.

        w_u(e) = sum over items j of  weight(u, j) * edge(j, e)

    ``item_weights`` is the user's weight per item (e.g. from ``interest.event_weights``, summed
    per item; negative for dislikes); ``item_entities`` maps an item to its entities and edge
    weights (``Relation`` rows item -> entity).
    """
    weights: dict[Hashable, float] = {}
    for item, item_weight in item_weights.items():
        for entity, edge in item_entities.get(item, {}).items():
            weights[entity] = weights.get(entity, 0.0) + float(item_weight) * float(edge)
    return weights


def kg_relation_weight_array(
    user_entity: ArrayLike,
    candidate_entity: ArrayLike | scipy.sparse.spmatrix | scipy.sparse.sparray,
    cap: float = DEFAULT_KG_CAP,
) -> np.ndarray:
    """R_ui for every candidate, on arrays; see ``kg_relation_weight`` for the formula.

    ``user_entity`` is the user's weight per entity, shape ``(n_entities,)``, or one row per user
    ``(n_users, n_entities)``; ``candidate_entity`` the candidates' edge weights, dense or sparse
    ``(n_candidates, n_entities)``. Returns ``(n_candidates,)``, or ``(n_users, n_candidates)``.
    """
    user = np.atleast_2d(np.asarray(user_entity, dtype=np.float64))
    positive_total = np.clip(user, 0, None).sum(axis=1, keepdims=True)
    # Normalising by the user's total positive weight keeps R_ui about *what share* of the user's
    # taste a candidate touches; without it, heavy users would saturate every candidate at the cap.
    share = np.divide(user, positive_total, out=np.zeros_like(user), where=positive_total > 0)
    if not scipy.sparse.issparse(candidate_entity):
        candidate_entity = np.asarray(candidate_entity, dtype=np.float64)
    strength = np.asarray((candidate_entity @ share.T).T)  # (n_users, n_candidates)
    weight = 1.0 + cap * np.tanh(np.clip(strength, 0, None) / cap) if cap > 0 else np.ones_like(strength)
    return weight[0] if np.ndim(user_entity) == 1 else weight


def kg_relation_weight(
    user_entity_weights: Mapping[Hashable, float],
    candidate_entities: Mapping[Hashable, Mapping[Hashable, float]],
    cap: float = DEFAULT_KG_CAP,
) -> dict[Hashable, float]:
    """R_ui for each candidate: how strongly KG paths lead from the user's items to it.

    Paths are ``user -(interacted)-> item -rel-> entity <-rel- candidate``. With ``w_u(e)`` the
    user's weight on entity e (``user_entity_weights``) and ``w_i(e)`` the candidate's edge weight:

        share_u(e) = w_u(e) / sum over e' of max(w_u(e'), 0)
        s_ui       = sum over entities e shared by u and i of  share_u(e) * w_i(e)
        R_ui       = 1 + cap * tanh(max(s_ui, 0) / cap)

    So R_ui is exactly 1 when no path exists (the score ``cos * R`` is then the cosine, never
    zero), grows about linearly with ``s_ui`` for weak paths and saturates below ``1 + cap``.
    Paths through disliked entities (negative ``s_ui``) do not push below 1: dislikes already
    lower the cosine through the interest vector.
    """
    entities = {entity: column for column, entity in enumerate(user_entity_weights)}
    user = np.array(list(user_entity_weights.values()), dtype=np.float64)
    candidates = list(candidate_entities)
    rows, columns, values = [], [], []
    for row, candidate in enumerate(candidates):
        for entity, edge in candidate_entities[candidate].items():
            if entity in entities:  # an entity the user never reached cannot form a path
                rows.append(row)
                columns.append(entities[entity])
                values.append(float(edge))
    matrix = scipy.sparse.csr_matrix((values, (rows, columns)), shape=(len(candidates), len(entities)))
    weights = kg_relation_weight_array(user, matrix, cap) if len(entities) else np.ones(len(candidates))
    return dict(zip(candidates, weights.tolist(), strict=True))


# ---------------------------------------------------------------------------------------------
# The hybrid score and its learnt blend

HYBRID_FEATURES = (
    "relevance", "collaborative", "item_knn", "popularity", "cold_relevance", "closest_liked", "sequential",
    "transition",
)  # fmt: skip
# With no trained blend, rank by the seed design's r_ui = cos * R alone.
DEFAULT_BLEND_WEIGHTS = (1.0,) + (0.0,) * (len(HYBRID_FEATURES) - 1)
# How many of the user's liked items a candidate's ``closest_liked`` similarity is taken over.
CLOSEST_LIKED_TOP = 1


def closest_liked_similarity(candidates: ArrayLike, liked: ArrayLike, top: int = CLOSEST_LIKED_TOP) -> np.ndarray:
    """Each candidate's mean cosine to the ``top`` liked items it is closest to.

    ``candidates`` ``(n, d)`` and ``liked`` ``(m, d)`` are item vectors (L2-normalised here; a
    zero row stays zero). With fewer than ``top`` liked items the mean is over all of them; with
    none, every candidate gets 0. Where the mean interest vector blurs a user's several tastes
    into one direction, this matches a candidate to the one taste it is closest to (a sequel, a
    second film by the director of a liked one).
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    # In float32, as the vectors are stored: this runs on every request (~400 x 200 cosines).
    candidates = np.atleast_2d(np.asarray(candidates, dtype=np.float32))
    liked = np.asarray(liked, dtype=np.float32)
    if liked.size == 0 or len(candidates) == 0:
        return np.zeros(len(candidates))
    liked = np.atleast_2d(liked)

    def unit(matrix: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    similarity = unit(candidates) @ unit(liked).T
    top = min(top, similarity.shape[1])
    if top == 1:
        return similarity.max(axis=1).astype(np.float64)
    return np.partition(similarity, -top, axis=1)[:, -top:].mean(axis=1, dtype=np.float64)


def closest_new_items(
    pool: ArrayLike,
    liked: ArrayLike,
    n: int,
    *,
    min_similarity: float = -1.0,
    top: int = 3,
    allowed: ArrayLike | None = None,
    shortlist: int = 100,
    shortlist_liked: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """The (at most) ``n`` rows of ``pool`` that best match the user's liked items, best first.

    ``pool`` ``(m, d)`` holds the vectors of items without collaborative evidence, ``liked``
    ``(l, d)`` those of the user's liked items, most recent first. An item's match is its
    ``closest_liked_similarity`` over ``top`` liked items, and it must reach ``min_similarity``;
    rows where ``allowed`` is False (the user's history) are never picked. Returns the pool row
    indices and their matches.

    A large pool is first cut to ``shortlist`` rows by each item's highest cosine to the
    ``shortlist_liked`` most recent liked items, so a request computes ``m x 50`` cosines rather
    than ``m x l`` (a pool of 2,000 against 200 liked items: about a third of the time). Ties keep
    pool order.
    """
    pool = np.atleast_2d(np.asarray(pool, dtype=np.float32))
    liked = np.atleast_2d(np.asarray(liked, dtype=np.float32))
    empty = np.zeros(0, dtype=np.int64), np.zeros(0)
    if n <= 0 or liked.size == 0 or pool.size == 0:
        return empty
    usable = np.ones(len(pool), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    if len(usable) != len(pool):
        raise ValueError(f"allowed needs one flag per pool row ({len(pool)}), got {len(usable)}")
    rows = np.flatnonzero(usable)
    if len(rows) > shortlist:
        # max over liked of cos = (max over liked of p . l / |l|) / |p|: the pool is not copied.
        recent = liked[:shortlist_liked]
        recent = recent / np.maximum(np.linalg.norm(recent, axis=1, keepdims=True), 1e-12)
        norms = np.sqrt(np.einsum("ij,ij->i", pool, pool))
        first = (pool @ recent.T).max(axis=1) / np.where(norms > 0, norms, 1.0)
        first[~usable] = -np.inf
        rows = np.sort(np.argpartition(-first, shortlist - 1)[:shortlist])  # in pool order, for the ties
    match = closest_liked_similarity(pool[rows], liked, top=top)
    order = np.argsort(-match, kind="stable")
    order = order[match[order] >= min_similarity][:n]
    return rows[order], match[order]


def standardise_within_list(values: ArrayLike) -> np.ndarray:
    """``(x - mean) / std`` over one list of candidates; all zeros when the list's values are equal.

    A blend shared by every user sees, in raw scores, mostly how users differ (a heavy user's
    item-KNN scores are all large, a narrow taste's cosines all high), while a list is ranked on
    how its candidates differ. Standardised within the list, a feature says how far above the
    user's typical candidate an item stands, which is what the ranking needs (on MovieLens, NDCG@10
    +1.5-2 % over scaling by the list's maximum).
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return values
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-12 else np.zeros(len(values))


def fuse_reranker(hybrid_scores: ArrayLike, click_probabilities: ArrayLike, weight: float) -> np.ndarray:
    """The top of a list re-scored by a CTR re-ranker, in (0, 1): higher is better.

        fused = (1 - weight) * z(hybrid score) + weight * z(logit(click probability))

    with both standardised within the list (``standardise_within_list``), then squashed by a
    sigmoid. ``weight`` 1 orders by the re-ranker alone, 0 keeps the hybrid's order; in between,
    a re-ranker that knows something the hybrid does not moves items without throwing away what
    the hybrid knew (on MovieLens a re-ranker trained on a CPU, validation AUC 0.70, halved
    NDCG@10 ordering the top 50 alone).
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"The re-ranker weight must lie in [0, 1], not {weight!r}.")
    hybrid = np.asarray(hybrid_scores, dtype=np.float64)
    probabilities = np.clip(np.asarray(click_probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    if hybrid.shape != probabilities.shape:
        raise ValueError("hybrid_scores and click_probabilities need one value per item each.")
    logits = np.log(probabilities) - np.log1p(-probabilities)
    fused = (1.0 - weight) * standardise_within_list(hybrid) + weight * standardise_within_list(logits)
    return scipy.special.expit(fused)


def hybrid_features(
    cosine: ArrayLike,
    kg_weight: ArrayLike | None = None,
    collaborative: ArrayLike | None = None,
    popularity: ArrayLike | None = None,
    *,
    item_knn: ArrayLike | None = None,
    known: ArrayLike | None = None,
    closest_liked: ArrayLike | None = None,
    sequential: ArrayLike | None = None,
    transition: ArrayLike | None = None,
) -> np.ndarray:
    """The ``(n, 8)`` feature matrix of ``HYBRID_FEATURES`` for one list of candidates:

    - ``relevance``: ``cos(u, i) * R_ui`` (a missing ``kg_weight`` means R = 1);
    - ``collaborative``: the ALS score;
    - ``item_knn``: the item-KNN score;
    - ``popularity``: the trending score;
    - ``cold_relevance``: ``relevance`` again for items the collaborative model has never seen
      (``known`` False), else 0, so the blend can learn how to rank new items by content alone
      instead of ranking them last for want of collaborative evidence;
    - ``closest_liked``: the cosine to the liked item the candidate is closest to
      (``closest_liked_similarity``), which finds the items near one of several tastes;
    - ``sequential``: the sequential user model's score (what comes next, from the order of the
      user's latest items: ``ml.sequential``);
    - ``transition``: how often people went on to the candidate right after the user's latest
      items (``core.transitions``).

    Every column is standardised within the list (``standardise_within_list``; ``cold_relevance``
    is the standardised relevance, kept for cold items only): raw ALS and KNN scores grow with
    the length of a history and cosines with the narrowness of a taste, which a blend shared by
    all users cannot correct for. The ranking by ``relevance``
    alone (the default weights) is the ranking by ``cos * R``.

    A missing collaborative, item-KNN, popularity, closest-liked, sequential or transition score means 0 (a constant
    column, standardised to 0); a missing ``known`` means every item is known.
    """
    cosine = np.asarray(cosine, dtype=np.float64)
    n = len(cosine)
    relevance = cosine * (1.0 if kg_weight is None else np.asarray(kg_weight, dtype=np.float64))

    def column(values: ArrayLike | None) -> np.ndarray:
        if values is None:
            return np.zeros(n)
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"every feature needs one value per candidate ({n}), got shape {values.shape}")
        return standardise_within_list(values)

    relevance = column(relevance)
    cold = np.zeros(n) if known is None else 1.0 - np.asarray(known, dtype=np.float64)
    return np.column_stack(
        [
            relevance,
            column(collaborative),
            column(item_knn),
            column(popularity),
            relevance * cold,
            column(closest_liked),
            column(sequential),
            column(transition),
        ]
    )


def hybrid_scores(
    cosine: ArrayLike,
    kg_weight: ArrayLike | None = None,
    collaborative: ArrayLike | None = None,
    popularity: ArrayLike | None = None,
    weights: ArrayLike = DEFAULT_BLEND_WEIGHTS,
    bias: float = 0.0,
    *,
    item_knn: ArrayLike | None = None,
    known: ArrayLike | None = None,
    closest_liked: ArrayLike | None = None,
) -> np.ndarray:
    """``sigmoid(hybrid_features(...) @ weights + bias)``, a click probability.

    The weights apply to the features as ``hybrid_features`` gives them; for a ``BlendModel``
    pass ``*model.raw_coefficients()`` (or call ``model.score(hybrid_features(...))``). The
    sigmoid does not change the order, so the default weights rank by ``cos * R``.
    """
    features = hybrid_features(
        cosine, kg_weight, collaborative, popularity, item_knn=item_knn, known=known, closest_liked=closest_liked
    )
    return scipy.special.expit(features @ np.asarray(weights, dtype=np.float64) + bias)


# ---------------------------------------------------------------------------------------------
# Candidates, popularity, diversity, rules


def top_items(
    scores: np.ndarray | None,
    ids: np.ndarray | None,
    n: int,
    exclude: Collection[Hashable] = (),
    *,
    positive_only: bool = False,
) -> dict[Hashable, float]:
    """``{id: score}`` of the ``n`` best-scored ids (``ids[j]`` scored ``scores[j]``), best first,
    ties by position, ``exclude`` left out (only positive scores with ``positive_only``)."""
    if scores is None or ids is None or n <= 0:
        return {}
    skip = set(exclude)
    candidates = np.flatnonzero(scores > 0) if positive_only else np.arange(len(scores))
    if not len(candidates):
        return {}
    take = min(len(candidates), n + len(skip))
    if take < len(candidates):  # the best ``take``, and every one tied with the last of them
        kth = np.partition(-scores[candidates], take - 1)[take - 1]
        candidates = candidates[-scores[candidates] <= kth]
    candidates = candidates[np.lexsort((candidates, -scores[candidates]))]
    result: dict[Hashable, float] = {}
    for position in candidates.tolist():
        item_id = ids[position].item() if hasattr(ids[position], "item") else ids[position]
        if item_id not in skip:
            result[item_id] = float(scores[position])
            if len(result) >= n:
                break
    return result


def merge_candidates(
    *sources: Mapping[Hashable, float],
    names: Sequence[str] | None = None,
    missing: float = 0.0,
) -> tuple[list[Hashable], np.ndarray, list[tuple[str, ...]]]:
    """Merge candidate lists from several sources into one list with one score column per source.

    Returns ``(ids, scores, proposed_by)``: ids in order of first appearance (the first source's
    items in its order, then new items of the second, ...), an ``(n, n_sources)`` matrix of each
    source's score (``missing`` where that source did not propose the item) and, per item, the
    names of the sources that proposed it (``names``, default ``source0``, ``source1``, ...).
    """
    names = tuple(names) if names is not None else tuple(f"source{j}" for j in range(len(sources)))
    if len(names) != len(sources):
        raise ValueError(f"{len(sources)} sources but {len(names)} names")
    position: dict[Hashable, int] = {}
    for source in sources:
        for item in source:
            position.setdefault(item, len(position))
    scores = np.full((len(position), len(sources)), missing, dtype=np.float64)
    proposed_by: list[list[str]] = [[] for _ in position]
    for column, (name, source) in enumerate(zip(names, sources, strict=True)):
        for item, score in source.items():
            scores[position[item], column] = score
            proposed_by[position[item]].append(name)
    return list(position), scores, [tuple(labels) for labels in proposed_by]


def time_decayed_popularity(
    item_idx: ArrayLike,
    times: ArrayLike,
    now: float,
    half_life_days: float,
    n_items: int,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    """Trending score per item: ``sum over its events of weight * 0.5 ** (age_days / half_life_days)``.

    ``times`` and ``now`` are Unix seconds; events in the future count as new. An infinite
    half-life gives plain (weighted) counts.
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    ages_days = np.maximum(now - np.asarray(times, dtype=np.float64), 0.0) / SECONDS_PER_DAY
    decay = 0.5 ** (ages_days / half_life_days)
    if weights is not None:
        decay = decay * np.asarray(weights, dtype=np.float64)
    return np.bincount(np.asarray(item_idx, dtype=np.int64), weights=decay, minlength=n_items).astype(np.float64)


def mmr(
    candidate_ids: Sequence[Hashable] | np.ndarray,
    relevance: ArrayLike,
    vectors: ArrayLike,
    k: int,
    lambda_: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximal marginal relevance: pick k candidates trading relevance for novelty.

    Each step takes the candidate maximising ``lambda_ * relevance - (1 - lambda_) * max cosine
    to the items already picked`` (the first pick is the most relevant). ``lambda_ = 1`` is a plain
    sort by relevance (ties kept in input order); ``lambda_ = 0`` only avoids repeating itself.
    Relevance is min-max scaled to [0, 1] within the candidates first, so ``lambda_`` means the
    same whatever the scorer's scale: a blend's probabilities of ~0.01 would otherwise be drowned
    by cosines of ~0.5 and the list would be ordered by novelty alone.
    ``vectors`` has one row per candidate and is L2-normalised here. Returns the picked ids and
    their relevance, in order; fewer than k when there are fewer candidates. O(k * n * d).
    """
    ids = np.asarray(candidate_ids)
    relevance = np.asarray(relevance, dtype=np.float64)
    n = len(ids)
    k = min(int(k), n)
    if k <= 0:
        return ids[:0], relevance[:0]
    span = float(relevance.max() - relevance.min()) if n else 0.0
    scaled = (relevance - relevance.min()) / span if span > 0 else np.zeros(n)
    unit = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit = unit / np.where(norms > 0, norms, 1.0)

    picked = np.empty(k, dtype=np.int64)
    picked[0] = int(np.argmax(relevance))
    # The highest similarity of each candidate to anything picked so far, updated one row at a time.
    max_similarity = unit @ unit[picked[0]]
    available = np.ones(n, dtype=bool)
    available[picked[0]] = False
    for step in range(1, k):
        marginal = lambda_ * scaled - (1.0 - lambda_) * max_similarity
        marginal[~available] = -np.inf
        picked[step] = int(np.argmax(marginal))
        available[picked[step]] = False
        np.maximum(max_similarity, unit @ unit[picked[step]], out=max_similarity)
    return ids[picked], relevance[picked]


def apply_rules(
    ids: Sequence[Hashable],
    scores: ArrayLike,
    *,
    boost: Mapping[Hashable, float] | None = None,
    bury: set | frozenset | None = None,
    pin: Mapping[Hashable, int] | None = None,
    block: set | frozenset | None = None,
    k: int | None = None,
) -> tuple[list[Hashable], np.ndarray]:
    """Apply a site's business rules to a scored candidate list; returns the final ids and scores.

    In this order:

    1. ``block``: the items are removed, whatever the other rules say (a blocked pin is dropped).
    2. ``boost``: each item's score is *multiplied* by its factor (1.5 = +50 %, 0.5 = halved).
       Multiplying keeps boosts meaningful whatever the score scale, but assumes scores >= 0, as
       the blend's probabilities are.
    3. The list is sorted by score, best first (ties keep input order).
    4. ``bury``: the items move to the end, in their score order.
    5. ``pin``: item -> 0-based position. The item is taken out of the ranking and put at that
       position, whether or not it was a candidate (a promotion can be forced into a list); a
       non-candidate's score is NaN, so callers can tell a forced item from a scored one. Pins are
       placed from the lowest position up; a position past the end of the list means the end;
       two pins on one position take consecutive places in ``pin``'s order. Pin beats bury.
    6. ``k``: the list is cut to k items (a pin at a position >= k is not shown).
    """
    block = block or set()
    boost = boost or {}
    bury = bury or set()
    pinned = {item: int(position) for item, position in (pin or {}).items() if item not in block}
    if any(position < 0 for position in pinned.values()):
        raise ValueError("pin positions are 0-based and cannot be negative")

    kept = [
        (item, float(score) * float(boost.get(item, 1.0)))
        for item, score in zip(ids, np.asarray(scores, dtype=np.float64).tolist(), strict=True)
        if item not in block
    ]
    score_of = dict(kept)
    kept.sort(key=lambda pair: -pair[1])
    ranked = [pair for pair in kept if pair[0] not in pinned and pair[0] not in bury]
    ranked += [pair for pair in kept if pair[0] not in pinned and pair[0] in bury]
    # Ascending positions, and equal positions in reverse order so each lands just before the
    # previously inserted one: the result holds every pin at its position, ties in `pin` order.
    order = sorted(enumerate(pinned.items()), key=lambda entry: (entry[1][1], -entry[0]))
    for _, (item, position) in order:
        ranked.insert(min(position, len(ranked)), (item, score_of.get(item, math.nan)))
    if k is not None:
        ranked = ranked[:k]
    return [item for item, _ in ranked], np.array([score for _, score in ranked], dtype=np.float64)
