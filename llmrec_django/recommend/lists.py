"""What every list of the recommend service is made of and goes through: the result types, the
final steps shared by every list (filters, business rules, MMR diversity, k, explanations), the
popularity fallback, and the list for a query vector (conversations).

The lists themselves: ``for_user`` ("for you"), ``similar`` (similar items), ``text_search``
(natural-language search); callers import them from ``llmrec_django.recommend``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.core.intent import Constraint, Intent
from llmrec_django.core.query_parsing import ParsedQuery
from llmrec_django.core.strategy import CANDIDATE_SOURCES
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import EmbeddingVersion, Item, Tenant, UserProfile
from llmrec_django.recommend.rules import active_rules, request_context, rule_effects
from llmrec_django.recommend.state import serving_state
from llmrec_django.recommend.threads import limit_blas_threads

logger = logging.getLogger(__name__)


logger = logging.getLogger(__name__)

SOURCE_NAMES = CANDIDATE_SOURCES  # the order merge_candidates is given them in
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
    intent: Intent | None = None  # search and conversations: the request understood (core.intent)
    reranker_run_id: int | None = None  # the re-ranker's training run, when one re-ordered the list
    strategy: str = "default"  # the experiment arm's name when an arm served the list
    copy_generator: str | None = None  # the arm's copy generator (dotted path), if it names one
    # Set by ``llmrec_django.recommend.serving`` when the list is served (logged) rather than only computed:
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


class Timer:
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


def clamp_k(k: int | None) -> int:
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


def passes_filters(
    row: serving_data.ItemRow,
    category: str | None,
    attributes: Mapping[str, Any] | None,
    constraints: Sequence[Constraint] = (),
) -> bool:
    if not row.is_active:
        return False
    if category and row.category.lower() != category.lower():
        return False
    for key, wanted in (attributes or {}).items():
        if (row.attributes or {}).get(key) != wanted:
            return False
    return all(constraint.holds(row.attributes, row.category) for constraint in constraints)


# ---------------------------------------------------------------------------------------------
# Final steps shared by every list: rules, diversity, k, explanations


def finish_list(
    tenant: Tenant,
    ids: list[int],
    scores: np.ndarray,
    proposed: list[tuple[str, ...]],
    explanations: Mapping[int, str] | Callable[[int], str],
    items: dict[int, serving_data.ItemRow],
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
    constraints: Sequence[Constraint] = (),
) -> list[Recommendation]:
    """Rules, MMR, then k. ``new_candidates``: new items (``recommend/new_items.py``), best
    first, of which up to ``NEW_ITEM_SLOTS`` take the last places of the list unless it already
    holds that many items from ``new_here`` (every new item among the candidates). ``explore``:
    under-exposed items that take the very last places (``llmrec_django.recommend.exploration``)."""
    rules = active_rules(tenant.pk, context)
    score_of = dict(zip(ids, scores.tolist(), strict=True))
    sources_of = dict(zip(ids, proposed, strict=True))
    effects = rule_effects(rules, items, score_of)
    forced = [i for i in effects.pin if i not in items]
    if forced:
        items.update(serving_data.load_items(tenant.pk, forced))
    # A pinned item still has to be one of this tenant's active items that passes the filters.
    pin = {
        i: p
        for i, p in effects.pin.items()
        if i in items and passes_filters(items[i], category, attributes, constraints) and i not in exclude
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


def popular_list(
    tenant: Tenant,
    *,
    k: int,
    reason: str,
    version: EmbeddingVersion | None,
    timer: Timer,
    context: Mapping[str, Any],
    category: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    exclude: set[int] = frozenset(),
    max_price: float | None = None,
    constraints: Sequence[Constraint] = (),
) -> RecommendationList:
    """Time-decayed popularity, filtered (``constraints``: a request's, ``core.intent``), with
    rules; fills up with the newest items if needed."""
    popular = serving_data.popularity(tenant.pk)
    wanted = k + len(exclude) + int(llmrec_settings.CANDIDATES_PER_SOURCE)
    candidate_ids = [i for i in popular if i not in exclude]
    items = serving_data.load_items(tenant.pk, candidate_ids[: max(wanted * 3, 200)])

    def ok(row: serving_data.ItemRow) -> bool:
        if not passes_filters(row, category, attributes, constraints):
            return False
        if max_price is not None:
            price = (row.attributes or {}).get("price")
            return isinstance(price, int | float) and price <= max_price
        return True

    chosen = [i for i in candidate_ids if i in items and ok(items[i])][:wanted]
    if len(chosen) < k:
        extra = serving_data.newest_items(tenant.pk, wanted, set(chosen) | exclude, category)
        items.update(serving_data.load_items(tenant.pk, extra))
        chosen += [i for i in extra if ok(items[i])]
    scores = np.array([popular.ordered_score(i) for i in chosen], dtype=np.float64)
    explanations = {i: popular.label(i) if i in popular else "New in the catalogue" for i in chosen}
    timer.lap("candidates")
    recs = finish_list(
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
    timer = Timer()
    limit_blas_threads()
    tenant = resolve_tenant(tenant)
    k = clamp_k(k)
    version = serving_state(tenant.pk).version
    return popular_list(
        tenant, reason=reason, k=k, version=version, timer=timer, context=request_context(context), category=category
    )


def vectors_failed_list(tenant: Tenant, exc: Exception, **common: Any) -> RecommendationList:
    """The popularity list for a request whose vectors could not be read or searched
    (``vectorstore.READ_ERRORS``: a missing or broken table or index, the search's statement
    timeout, a bad query vector)."""
    logger.warning("Vector search failed for tenant %s: %s", tenant.slug, exc)
    return popular_list(tenant, reason=f"vector search failed ({type(exc).__name__})", **common)


# ---------------------------------------------------------------------------------------------
# For a query vector (conversations)


def met_explanation(constraints: Sequence[Constraint], row: serving_data.ItemRow | None) -> str:
    """ "PG, year over 2020, comedy: as you asked" for an item meeting a request's constraints."""
    met = [c.describe() for c in constraints if row is not None and c.holds(row.attributes, row.category)]
    return f"{', '.join(met)}: as you asked" if met else ""


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
    constraints: Sequence[Constraint] = (),
) -> RecommendationList:
    """The items of ``version`` nearest to ``vector`` (a conversation's query) that satisfy
    ``constraints`` (``core.intent``), with the usual filters, rules and diversity; the
    popularity list when nothing is near enough. An item meeting constraints says so."""
    timer = Timer()
    limit_blas_threads()
    tenant = version.tenant
    k = clamp_k(k)
    exclude = {int(i) for i in exclude}
    context = request_context(context)
    common = dict(
        k=k, version=version, timer=timer, context=context, category=category, exclude=exclude, max_price=max_price,
        constraints=constraints,
    )  # fmt: skip
    n = k + int(llmrec_settings.CANDIDATES_PER_SOURCE)
    try:
        found = vectorstore.nearest_items(
            version, vector, n, exclude_item_ids=sorted(exclude), category=category, max_price=max_price,
            with_vectors=True, constraints=constraints,
        )  # fmt: skip
    except vectorstore.READ_ERRORS as exc:
        return vectors_failed_list(tenant, exc, **common)
    if not found:
        return popular_list(tenant, reason="no item is near the query", **common)
    ids = [nb.item_id for nb in found]
    items = serving_data.load_items(tenant.pk, ids)
    timer.lap("vector")
    recs = finish_list(
        tenant,
        ids,
        np.array([nb.score for nb in found]),
        [(source,)] * len(ids),
        {i: met_explanation(constraints, items.get(i)) or explanation for i in ids},
        items,
        k=k,
        context=context,
        category=category,
        attributes=None,
        exclude=exclude,
        vectors={nb.item_id: nb.vector for nb in found},
        constraints=constraints,
    )
    timer.lap("rules_mmr")
    return RecommendationList(items=recs, source=source, version_id=version.pk, k=k, timings_ms=timer.done())
