"""A user's "for you" lists, kept until something they depend on changes.

A list takes about 10 ms of CPU to compute (four round trips, five candidate sources, the blend,
rules and diversity), and the same user asks for it again and again: every page, every refresh,
every widget that shows it. ``serving.for_user`` keeps each computed list in Django's cache
(``LIST_CACHE["CACHE"]``, one entry per user holding the variants they asked for: k, category,
context, the rules in force for it, the experiment arm's strategy) and serves it again while all of these hold:

- the user did nothing new: the count and the latest id of their interactions are the same (an
  event, a rating, an erased event all change them);
- their interest vector in the list's embedding version and their profile (text, recent
  searches, preferences) were not rewritten since (the worker refreshes the vector after events);
- the tenant serves the same way: the same embedding version, blend, collaborative model,
  re-ranker and business rules in force (``ServingState.signature``), the same experiment arm;
- every listed item is still active and unchanged;
- it is younger than ``LIST_CACHE["SECONDS"]`` (60): what changes for everyone at once (trending
  scores, the new-item pool, exploration's picks) shows within that time, as it does through the
  per-process caches of those aggregates.

A hit costs one small statement (the checks above) instead of the four round trips and the
ranking. Every serve is still logged as its own list (its own ``list_id`` and impressions).
Fallback lists (no vector yet, no version, a failed index) are not kept: they are cheap, and the
next request should get the personalised list as soon as it can. Lists of an experiment with
shadow arms are not kept either (each request scores the shadows too). Erasing a user deletes
their entry (``forget``). ``SECONDS`` 0 turns the cache off.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db import DatabaseError

from llmrec_django.conf import llmrec_settings
from llmrec_django.database.reads import Read, array_literal, fetch

if TYPE_CHECKING:
    from llmrec_django.recommend.lists import RecommendationList

logger = logging.getLogger(__name__)

# At most this many variants (k, category, context, rules in force, arm's strategy) are kept per
# user; the oldest goes first.
MAX_VARIANTS = 8


@dataclass(frozen=True)
class Stamp:
    """What the user's list depends on that only the database knows (read in one statement)."""

    events: int
    last_event_id: int
    vector_updated_at: datetime | None
    read_at: datetime  # the database's clock when it was read: items changed later invalidate


@dataclass
class _Entry:
    stamp: Stamp
    profile_updated_at: datetime | None
    signature: str
    stored_at: float  # time.time()
    result: RecommendationList


def seconds() -> float:
    return float(llmrec_settings.LIST_CACHE["SECONDS"])


def enabled() -> bool:
    return seconds() > 0


def _cache():
    return caches[llmrec_settings.LIST_CACHE["CACHE"]]


def user_key(tenant_id: int, user_id: int) -> str:
    return f"llmrec:lists:{int(tenant_id)}:{int(user_id)}"


def variant_key(**params: Any) -> str:
    """The request's parameters (k, category, context, arm ...) as a stable string."""
    return json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))


_STAMP_SQL = (
    "SELECT (SELECT count(*) FROM llmrec_django_interaction WHERE user_id = %s), "
    "(SELECT coalesce(max(id), 0) FROM llmrec_django_interaction WHERE user_id = %s), "
    "(SELECT updated_at FROM llmrec_django_uservector WHERE version_id = %s AND user_id = %s), "
    "clock_timestamp(), "
    "(SELECT count(*) FROM llmrec_django_item WHERE id = ANY(%s::bigint[]) AND is_active AND updated_at <= %s)"
)


def _read_stamp(
    user_id: int, version_id: int, items: list[int] | None = None, since: datetime | None = None
) -> tuple[Stamp, int] | None:
    """The user's stamp and how many of ``items`` are active and unchanged since ``since``; None
    when the database cannot tell (the list is then computed, and its own reads fall back)."""
    user_id = int(user_id)
    read = Read(
        _STAMP_SQL,
        [user_id, user_id, int(version_id), user_id, array_literal(items or []), since],
        lambda rows: rows[0],
    )
    try:
        (row,) = fetch(read)
    except DatabaseError as exc:
        logger.warning("The list cache could not read what lists depend on (%s); computing the list.", exc)
        return None
    events, last_id, vector_at, now, items_ok = row
    return Stamp(int(events), int(last_id), vector_at, now), int(items_ok or 0)


def read_stamp(user_id: int, version_id: int) -> Stamp | None:
    """The stamp a list about to be computed will be stored with (read before computing it, so
    that whatever changes while it is computed makes the stored list stale)."""
    read = _read_stamp(user_id, version_id)
    return read[0] if read else None


def lookup(
    tenant_id: int, user_id: int, variant: str, *, signature: str, profile_updated_at: datetime | None
) -> RecommendationList | None:
    """A copy of the kept list for this variant, if it is still what the service would serve."""
    if not enabled():
        return None
    started = time.perf_counter()
    try:
        entries = _cache().get(user_key(tenant_id, user_id))
    except Exception:  # a cache that fails costs the lists their speed, never the answer
        logger.warning("The list cache could not be read; computing the list.", exc_info=True)
        return None
    entry = (entries or {}).get(variant)
    if (
        entry is None
        or entry.signature != signature
        or entry.profile_updated_at != profile_updated_at
        or time.time() - entry.stored_at >= seconds()
    ):
        return None
    items = entry.result.item_ids
    read = _read_stamp(user_id, entry.result.version_id, items, entry.stamp.read_at)
    if read is None:
        return None
    stamp, items_ok = read
    if (stamp.events, stamp.last_event_id, stamp.vector_updated_at) != (
        entry.stamp.events,
        entry.stamp.last_event_id,
        entry.stamp.vector_updated_at,
    ) or items_ok != len(set(items)):
        return None
    result = dataclasses.replace(
        entry.result,
        items=list(entry.result.items),
        timings_ms={"list_cache": round((time.perf_counter() - started) * 1000, 2)},
    )
    return result


def store(
    tenant_id: int,
    user_id: int,
    variant: str,
    result: RecommendationList,
    *,
    stamp: Stamp | None,
    signature: str,
    profile_updated_at: datetime | None,
) -> None:
    """Keep ``result`` (as computed, before it is logged) for this variant."""
    if not enabled() or result.source != "hybrid" or stamp is None:
        return
    kept = dataclasses.replace(result, list_id=None, experiment=None, arm=None, items=list(result.items))
    key = user_key(tenant_id, user_id)
    try:
        cache = _cache()
        entries: dict[str, _Entry] = cache.get(key) or {}
        entries.pop(variant, None)
        entries[variant] = _Entry(stamp, profile_updated_at, signature, time.time(), kept)
        while len(entries) > MAX_VARIANTS:
            entries.pop(next(iter(entries)))
        cache.set(key, entries, timeout=max(1, int(seconds() + 1)))
    except Exception:
        logger.warning("The list cache could not be written.", exc_info=True)


def forget(tenant_id: int, user_id: int) -> None:
    """Drop every list kept for the user (erasure)."""
    try:
        _cache().delete(user_key(tenant_id, user_id))
    except Exception:
        logger.warning("The list cache could not be cleared for user %s.", user_id, exc_info=True)
