"""Bulk loading for the recommend service: one query per kind of data, never one per candidate.

Knowledge-graph "entities" of an item are its outgoing edges: to an ``Entity`` (key
``("e", entity_id)``) or to another item (key ``("i", item_id)``, for ``similar_to`` /
``pairs_with`` edges). A candidate reached by an item edge gets the pseudo-entity ``("i", its id)``
with weight 1, so one formula (``core.ranking.kg_relation_weight_array``) covers both kinds of path.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse
from django.db import connections
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.core.attribute_schema import CatalogueSchema, learn_schema
from llmrec_django.core.interest import event_weights
from llmrec_django.database import routing
from llmrec_django.database.caches import TenantCache
from llmrec_django.database.reads import Read, array_literal, fetch
from llmrec_django.models import Item, Tenant

logger = logging.getLogger(__name__)

EntityKey = tuple[str, int]

# Entity types too broad to explain a recommendation when a more specific path exists
# ("same category: books" says less than "same author: Ada Finch").
GENERIC_ENTITY_TYPES = {"category"}
# The user's latest liked items whose vectors a request reads: they lean the interest vector
# toward the request's context, give each candidate its ``closest_liked`` feature and name the
# liked item a vector match is close to.
RECENT_LIKED_ITEMS = 200


@dataclass
class History:
    """A user's recent events and what they say about the user's taste."""

    item_weights: dict[int, float] = field(default_factory=dict)  # summed, decayed event weights
    strongest_event: dict[int, str] = field(default_factory=dict)  # item -> its most telling event type
    consumed: set[int] = field(default_factory=set)  # items with an event of an excluded type
    events: list[tuple[int, str, float | None, datetime, str, str]] = field(default_factory=list)

    @property
    def liked(self) -> dict[int, float]:
        return {item: weight for item, weight in self.item_weights.items() if weight > 0}


def history_read(
    user_id: int, consumed_types: Iterable[str], recent: Mapping[str, float] | None = None
) -> Read[History]:
    """The user's most recent events (``USER_HISTORY_LIMIT``) and what they say (one statement).
    ``consumed`` holds the items of events of ``consumed_types``, and of events of a type in
    ``recent`` younger than its seconds (``EXCLUDE_RECENT_EVENTS``: just viewed, in the cart)."""
    consumed_types = set(consumed_types)
    recent = {event_type: float(seconds) for event_type, seconds in (recent or {}).items()}

    def parse(rows: list[tuple]) -> History:
        history = History(events=rows)
        if not rows:
            return history
        now = timezone.now()
        ages = np.array([(now - row[3]).total_seconds() for row in rows])
        weights = event_weights(
            [r[1] for r in rows],
            [r[2] for r in rows],
            ages,
            llmrec_settings.EVENT_WEIGHTS,
            float(llmrec_settings.RECENCY_HALF_LIFE_DAYS),
        )
        type_weights = llmrec_settings.EVENT_WEIGHTS
        for (item_id, event_type, *_), weight, age in zip(rows, weights.tolist(), ages.tolist(), strict=True):
            history.item_weights[item_id] = history.item_weights.get(item_id, 0.0) + weight
            current = history.strongest_event.get(item_id)
            if current is None or type_weights.get(event_type, 0) > type_weights.get(current, 0):
                history.strongest_event[item_id] = event_type
            if event_type in consumed_types or age < recent.get(event_type, 0.0):
                history.consumed.add(item_id)
        return history

    return Read(
        "SELECT item_id, event_type, value, timestamp, device, location FROM llmrec_django_interaction "
        "WHERE user_id = %s ORDER BY timestamp DESC, id DESC LIMIT %s",
        [int(user_id), int(llmrec_settings.USER_HISTORY_LIMIT)],
        parse,
    )


def load_history(user_id: int, consumed_types: Iterable[str], recent: Mapping[str, float] | None = None) -> History:
    """The user's most recent events (``USER_HISTORY_LIMIT``), in one query."""
    return fetch(history_read(user_id, consumed_types, recent))[0]


@dataclass(frozen=True)
class ItemRow:
    id: int
    external_id: str
    title: str
    category: str
    stored_attributes: Any  # the jsonb column as read: text with Django's psycopg setup
    is_active: bool

    @cached_property
    def attributes(self) -> dict:
        """Decoded when first asked for: most lists read a few hundred rows and no attribute."""
        return _json(self.stored_attributes)


def _ids(item_ids: Iterable[int]) -> list[int]:
    return [int(i) for i in set(item_ids)]


def _json(value: Any) -> Any:
    """A jsonb column read with a plain cursor (Django's psycopg setup leaves it as text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def items_read(tenant_id: int, item_ids: Iterable[int]) -> Read[dict[int, ItemRow]]:
    """The tenant's items among ``item_ids`` (another tenant's ids are simply not found).

    Plain SQL with one array parameter: this runs on every request for a few hundred ids, where
    the ORM's ``pk__in`` prepares each id on its own."""
    ids = _ids(item_ids)

    def parse(rows: list[tuple]) -> dict[int, ItemRow]:
        return {row[0]: ItemRow(*row) for row in rows}

    return Read(
        "SELECT id, external_id, title, category, attributes, is_active FROM llmrec_django_item "
        "WHERE tenant_id = %s AND id = ANY(%s::bigint[])"
        if ids
        else None,
        [tenant_id, array_literal(ids)],
        parse,
    )


def load_items(tenant_id: int, item_ids: Iterable[int]) -> dict[int, ItemRow]:
    return fetch(items_read(tenant_id, item_ids))[0]


Edges = tuple[dict[int, dict[EntityKey, float]], dict[EntityKey, tuple]]


def item_entity_edges_read(item_ids: Iterable[int]) -> Read[Edges]:
    """Each item's outgoing KG edges as {entity key: weight}, and a label per entity key:
    ``(entity_type, name)`` for entities, ``(relation, item_id)`` for item edges."""
    ids = _ids(item_ids)

    def parse(rows: list[tuple]) -> Edges:
        edges: dict[int, dict[EntityKey, float]] = defaultdict(dict)
        labels: dict[EntityKey, tuple] = {}
        for head, relation, weight, entity_id, entity_type, name, tail_item in rows:
            if entity_id is not None:
                key: EntityKey = ("e", entity_id)
                labels[key] = (entity_type, name)
            elif tail_item is not None:
                key = ("i", tail_item)
                labels[key] = (relation, tail_item)
            else:
                continue
            edges[head][key] = edges[head].get(key, 0.0) + float(weight)
        return edges, labels

    return Read(
        "SELECT r.head_item_id, r.relation, r.weight, r.tail_entity_id, e.entity_type, e.name, r.tail_item_id "
        "FROM llmrec_django_relation r LEFT JOIN llmrec_django_entity e ON e.id = r.tail_entity_id "
        "WHERE r.head_item_id = ANY(%s::bigint[])"
        if ids
        else None,
        [array_literal(ids)],
        parse,
    )


def item_entity_edges(item_ids: Iterable[int]) -> Edges:
    return fetch(item_entity_edges_read(item_ids))[0]


def kg_candidates_read(
    tenant_id: int, entity_weights: dict[EntityKey, float], n: int, exclude: Iterable[int]
) -> Read[dict[int, float]]:
    """Active items reached from the user's entities, by path strength ``sum share(e) * edge(i, e)``.

    One SQL aggregate over entity edges, plus the item edges' targets themselves.
    """
    positive = {key: w for key, w in entity_weights.items() if w > 0}
    total = sum(positive.values())
    excluded = {int(i) for i in exclude}
    entity_ids = [key[1] for key in positive if key[0] == "e"]
    shares = [positive[("e", e)] / total for e in entity_ids]

    def parse(rows: list[tuple]) -> dict[int, float]:
        if not positive or n <= 0:
            return {}
        strength = {item_id: float(value) for item_id, value in rows if item_id not in excluded}
        for key, weight in positive.items():
            if key[0] == "i" and key[1] not in excluded:
                strength[key[1]] = strength.get(key[1], 0.0) + weight / total
        best = sorted(strength.items(), key=lambda pair: (-pair[1], pair[0]))[:n]
        return dict(best)

    # Excluded items are dropped in Python rather than in SQL: `NOT (id = ANY(long array))` costs
    # one comparison per reached row and array element, a bigger LIMIT costs next to nothing.
    return Read(
        """
        SELECT r.head_item_id, SUM(r.weight * u.share) AS strength
        FROM llmrec_django_relation r
        JOIN unnest(%s::bigint[], %s::float8[]) AS u(entity_id, share) ON r.tail_entity_id = u.entity_id
        JOIN llmrec_django_item i ON i.id = r.head_item_id
        WHERE r.tenant_id = %s AND i.is_active
        GROUP BY r.head_item_id ORDER BY strength DESC, r.head_item_id LIMIT %s
        """
        if entity_ids and n > 0
        else None,
        [array_literal(entity_ids), array_literal(shares), tenant_id, int(n) + len(excluded)],
        parse,
    )


def kg_candidates(
    tenant_id: int, entity_weights: dict[EntityKey, float], n: int, exclude: Iterable[int]
) -> dict[int, float]:
    return fetch(kg_candidates_read(tenant_id, entity_weights, n, exclude))[0]


def kg_weights(
    entity_weights: dict[EntityKey, float],
    candidate_edges: dict[int, dict[EntityKey, float]],
    candidates: Sequence[int],
    cap: float,
    labels: dict[EntityKey, tuple] | None = None,
) -> tuple[np.ndarray, list[EntityKey | None]]:
    """R_ui for each candidate (``core.ranking.kg_relation_weight_array``) and the entity that
    contributes most to it (None without a path), for the explanation; generic entity types
    (``GENERIC_ENTITY_TYPES``) explain only when nothing more specific does."""
    keys = list(entity_weights)
    column = {key: j for j, key in enumerate(keys)}
    rows, columns, values = [], [], []
    for row, candidate in enumerate(candidates):
        edges = dict(candidate_edges.get(candidate, {}))
        edges[("i", candidate)] = 1.0  # reached by an item edge from something the user liked
        for key, weight in edges.items():
            if key in column:
                rows.append(row)
                columns.append(column[key])
                values.append(weight)
    if not keys:
        return np.ones(len(candidates)), [None] * len(candidates)
    matrix = scipy.sparse.csr_matrix((values, (rows, columns)), shape=(len(candidates), len(keys)))
    user = np.array([entity_weights[key] for key in keys], dtype=np.float64)
    weights = ranking.kg_relation_weight_array(user, matrix, cap)
    telling = np.array([0.1 if (labels or {}).get(key, ("",))[0] in GENERIC_ENTITY_TYPES else 1.0 for key in keys])
    contribution = matrix.multiply((np.clip(user, 0, None) * telling)[None, :]).tocsr()
    best: list[EntityKey | None] = []
    for row in range(len(candidates)):
        start, stop = contribution.indptr[row], contribution.indptr[row + 1]
        if stop == start or contribution.data[start:stop].max() <= 0:
            best.append(None)
            continue
        best.append(keys[contribution.indices[start + int(np.argmax(contribution.data[start:stop]))]])
    return weights, best


# ---------------------------------------------------------------------------------------------
# Popularity


class Popularity(dict):
    """Item -> trending score in (0, 1] (the blend's ``popularity`` feature), iterated best first
    by evidence, then by score: first the items ``this_week`` (at least ``POPULARITY_MIN_USERS``
    distinct users in the last ``POPULARITY_WINDOW_DAYS`` by the server's clock), then the
    ``established`` ones (that many users ever), then the rest. One visitor's clicks, however
    recent, never make an item "popular this week" for everyone."""

    def __init__(self, scores=(), *, this_week=frozenset(), established=frozenset()):
        super().__init__(scores)
        self.this_week = frozenset(this_week)
        self.established = frozenset(established) | self.this_week

    def tier(self, item_id: int) -> int:
        """2 popular this week, 1 popular with enough users ever, 0 little evidence."""
        return 2 if item_id in self.this_week else 1 if item_id in self.established else 0

    def ordered_score(self, item_id: int) -> float:
        """A score in [0, 1] that sorts as this mapping iterates (evidence first, then trend)."""
        return (self.tier(item_id) + self.get(item_id, 0.0)) / 3.0

    def label(self, item_id: int) -> str:
        """What a shopper is told about the item's popularity."""
        return ("Getting attention lately", "Popular with shoppers", "Popular this week")[self.tier(item_id)]


def popularity(tenant_id: int) -> Popularity:
    """Trending score of the tenant's active items (``Popularity``), best first.

    ``core.ranking.time_decayed_popularity`` over one SQL aggregate of the events per item, type
    and user (each user counts once per item and event type, with their latest time: a hundred
    views by one user weigh as one), with positive event weights and ``POPULARITY_HALF_LIFE_DAYS``, counted back from the
    latest event or from now if that is earlier (an event dated in the future counts as new);
    the evidence tiers come from a second aggregate of distinct users per item. Cached per
    process for ``POPULARITY_CACHE_SECONDS`` and recomputed in the background (``caching.TenantCache``).
    """
    return _popularity.get(tenant_id)


def _compute_popularity(tenant_id: int) -> Popularity:
    half_life = float(llmrec_settings.POPULARITY_HALF_LIFE_DAYS)
    type_weights = llmrec_settings.EVENT_WEIGHTS
    positive = sorted(t for t, w in type_weights.items() if w > 0)
    now = timezone.now()
    window_start = now - timedelta(days=float(llmrec_settings.POPULARITY_WINDOW_DAYS))
    # A serving aggregate, also when a background refresh computes it: from the serving database.
    with routing.serving_reads(), connections[routing.read_alias()].cursor() as cursor:
        cursor.execute(
            """
            SELECT u.item_id, u.event_type, extract(epoch FROM date_trunc('hour', u.latest)), count(*)
            FROM (
                SELECT e.item_id, e.event_type, e.user_id, max(e.timestamp) AS latest
                FROM llmrec_django_interaction e JOIN llmrec_django_item i ON i.id = e.item_id
                WHERE e.tenant_id = %s AND i.is_active
                GROUP BY 1, 2, 3
            ) u
            GROUP BY 1, 2, 3
            """,
            [tenant_id],
        )
        rows = cursor.fetchall()
        cursor.execute(
            """
            SELECT e.item_id, count(DISTINCT e.user_id) FILTER (WHERE e.timestamp >= %s AND e.timestamp <= %s),
                   count(DISTINCT e.user_id)
            FROM llmrec_django_interaction e JOIN llmrec_django_item i ON i.id = e.item_id
            WHERE e.tenant_id = %s AND i.is_active AND e.event_type = ANY(%s)
            GROUP BY 1
            """,
            [window_start, now, tenant_id, positive],
        )
        users = cursor.fetchall()
    rows = [r for r in rows if type_weights.get(r[1], 0) > 0]
    trend_by_item: dict[int, float] = {}
    if rows:
        item_ids = np.array([r[0] for r in rows], dtype=np.int64)
        unique, index = np.unique(item_ids, return_inverse=True)
        times = np.array([float(r[2]) for r in rows])
        weights = np.array([type_weights[r[1]] * r[3] for r in rows], dtype=np.float64)
        reference = min(float(times.max()), now.timestamp())
        trend = ranking.time_decayed_popularity(index, times, reference, half_life, len(unique), weights)
        top = float(trend.max()) or 1.0
        trend_by_item = {int(unique[j]): float(trend[j] / top) for j in range(len(unique)) if trend[j] > 0}
    least = int(llmrec_settings.POPULARITY_MIN_USERS)
    result = Popularity(
        this_week={int(i) for i, recent, _ in users if recent >= least and int(i) in trend_by_item},
        established={int(i) for i, _, ever in users if ever >= least and int(i) in trend_by_item},
    )
    for item_id in sorted(trend_by_item, key=lambda i: (-result.tier(i), -trend_by_item[i], i)):
        result[item_id] = trend_by_item[item_id]
    return result


_popularity: TenantCache[Popularity] = TenantCache(
    "popularity", _compute_popularity, lambda: float(llmrec_settings.POPULARITY_CACHE_SECONDS)
)


def clear_caches() -> None:
    """Forget the per-process aggregates: popularity and the new-item pool."""
    _popularity.clear()


def newest_items(tenant_id: int, n: int, exclude: Iterable[int], category: str | None) -> list[int]:
    """Active items by recency, to fill a list when popularity knows too few items."""
    query = Item.objects.filter(tenant_id=tenant_id, is_active=True).exclude(pk__in=list(exclude))
    if category:
        query = query.filter(category__iexact=category)
    return list(query.order_by("-created_at", "-pk").values_list("pk", flat=True)[:n])


def categories(tenant_id: int) -> list[str]:
    return list(
        Item.objects.filter(tenant_id=tenant_id, is_active=True)
        .exclude(category="")
        .values_list("category", flat=True)
        .distinct()
    )


# Items read to learn a tenant's attribute schema (the newest; enough to see every attribute).
SCHEMA_SAMPLE = 20_000


def catalogue_schema(tenant_id: int) -> CatalogueSchema:
    """The tenant's attribute schema (``core.attribute_schema``): learned from its active items
    (the newest ``SCHEMA_SAMPLE``), with ``LLMREC["INTENT"]`` and the tenant's own vocabulary
    (``Tenant.vocabulary``, edited in the admin) merged in. Cached per process for
    ``INTENT["SCHEMA_CACHE_SECONDS"]``."""
    return _schema.get(tenant_id)


def declared_vocabulary(tenant_id: int) -> dict[str, Any]:
    """``LLMREC["INTENT"]`` with the tenant's vocabulary over it (key by key)."""
    configured = llmrec_settings.INTENT
    declared: dict[str, Any] = {
        "categories": dict(configured.get("CATEGORIES") or {}),
        "attributes": {k: dict(v) for k, v in (configured.get("ATTRIBUTES") or {}).items()},
        "values": dict(configured.get("VALUES") or {}),
    }
    own = Tenant.objects.filter(pk=tenant_id).values_list("vocabulary", flat=True).first() or {}
    for part in ("categories", "values"):
        declared[part].update(own.get(part) or {})
    for name, spec in (own.get("attributes") or {}).items():
        declared["attributes"][name] = {**declared["attributes"].get(name, {}), **(spec or {})}
    return declared


def _compute_schema(tenant_id: int) -> CatalogueSchema:
    rows = list(
        Item.objects.filter(tenant_id=tenant_id, is_active=True)
        .order_by("-pk")
        .values_list("category", "attributes")[:SCHEMA_SAMPLE]
    )
    return learn_schema(
        sorted({category for category, _ in rows if category}),
        [(category, attributes if isinstance(attributes, dict) else {}) for category, attributes in rows],
        declared_vocabulary(tenant_id),
    )


_schema: TenantCache[CatalogueSchema] = TenantCache(
    "catalogue schema", _compute_schema, lambda: float(llmrec_settings.INTENT["SCHEMA_CACHE_SECONDS"])
)


def forget_schema() -> None:
    """Drop this process's schemas (a tenant's vocabulary changed)."""
    _schema.clear()


def cheap_price_ceiling(tenant_id: int, category: str | None) -> float | None:
    """The bottom-tercile price (33rd percentile) of the tenant's active items, in a category if given."""
    sql = (
        "SELECT percentile_cont(1.0 / 3) WITHIN GROUP (ORDER BY (attributes->>'price')::float8) "
        "FROM llmrec_django_item WHERE tenant_id = %s AND is_active AND jsonb_typeof(attributes->'price') = 'number'"
    )
    params: list = [tenant_id]
    if category:
        sql += " AND lower(category) = lower(%s)"
        params.append(category)
    with connections[routing.read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None or row[0] is None else float(row[0])
