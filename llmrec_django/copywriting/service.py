"""Write recommendation copy for a user's list: the configured generator under a time budget,
validated, with the template as the fallback, cached in the database.

Usage::

    from llmrec_django.copywriting.service import write_copy

    copy = write_copy("user-005", recommend_for_user("user-005", k=5))
    copy.text, copy.html, copy.generator_name, copy.fell_back, copy.reason, copy.cached

The generator runs in a daemon thread (``writing.produce_copy``); the caller waits at most ``TIME_BUDGET_SECONDS``
(``AHEAD_OF_TIME_BUDGET_SECONDS`` for copy written ahead of time by the ``generate_copy`` Celery
task or ``llmrec_copy``). On a timeout, an exception or text that fails ``validate_copy``, the
template's copy is returned with ``fell_back=True`` and the reason. Copy is cached per (tenant,
user, hash of generator + prompt version + facts) for ``CACHE_SECONDS``; a fallback only for
``FALLBACK_CACHE_SECONDS``, so the model gets another chance soon.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models.functions import Lower
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.backends import get_copy_generator
from llmrec_django.copywriting.base import CopyGenerator, CopyRequest, ItemFacts, shorten
from llmrec_django.copywriting.prompt import PROMPT_VERSION, data_block
from llmrec_django.copywriting.writing import Copy, produce_copy, template_generator
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Interaction, Item, RecommendationCopy, Tenant, UserProfile
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.recommend.lists import UnknownUser

logger = logging.getLogger(__name__)

PROFILE_CHARS = 300


def copy_settings() -> dict[str, Any]:
    return llmrec_settings.COPY


# ---------------------------------------------------------------------------------------------
# Facts


def _resolve_user(user: UserProfile | str, tenant: Tenant) -> UserProfile:
    if isinstance(user, UserProfile):
        if user.tenant_id != tenant.pk:
            raise UnknownUser(f"User {user.external_id!r} belongs to another tenant.")
        return user
    found = UserProfile.objects.filter(tenant=tenant, external_id=str(user)).first()
    if found is None:
        raise UnknownUser(f"No user {user!r} in tenant {tenant.slug!r}.")
    return found


def build_request(profile: UserProfile, recommendations: Sequence[Any], tenant: Tenant) -> CopyRequest:
    """The facts a generator may use: each item's title, category, attributes, a description
    excerpt and its explanation; the profile text only if the user allows personalisation."""
    settings = copy_settings()
    recs = list(recommendations)[: int(settings["MAX_ITEMS"])]
    rows = {
        row["pk"]: row
        for row in Item.objects.filter(tenant=tenant, pk__in=[r.item_id for r in recs]).values(
            "pk", "external_id", "title", "category", "attributes", "description"
        )
    }
    items = []
    for rec in recs:
        row = rows.get(rec.item_id)
        if row is None:
            continue  # deleted since the list was made, or another tenant's id
        items.append(ItemFacts.from_row(row, getattr(rec, "explanation", "") or ""))
    text = (
        shorten(profile.profile_text, PROFILE_CHARS) if profile.personalisation_enabled and profile.profile_text else ""
    )
    return CopyRequest(items=tuple(items), profile=text, max_chars=int(settings["MAX_CHARS"]))


def fact_sheet(request: CopyRequest) -> dict[str, Any]:
    """What the copy was written from, for the admin: the prompt's data (titles, categories,
    attributes, why each was picked, the interests), and each description the checker compared
    the text with."""
    sheet = json.loads(data_block(request))
    for entry, item in zip(sheet["items"], request.items, strict=True):
        if item.description:
            entry["description (not given to the model)"] = item.description
    return sheet


def catalogue_title_lookup(tenant: Tenant):
    """For the validator: which of these phrases are titles of the tenant's items. A one-word
    title counts only with the title's own capitalisation ("Tea" the item, not "tea" the word)."""

    def lookup(phrases: Iterable[str]) -> list[str]:
        phrases = set(phrases)
        if not phrases:
            return []
        lowered = sorted({p.lower() for p in phrases})
        titles = (
            Item.objects.filter(tenant=tenant)
            .annotate(lowered_title=Lower("title"))
            .filter(lowered_title__in=lowered)
            .values_list("title", flat=True)
            .distinct()[:100]
        )
        return [t for t in titles if len(t.split()) > 1 or t in phrases]

    return lookup


def list_fingerprint(tenant_id: int, user_id: int, items: Sequence[Sequence[Any]]) -> str:
    """A short hash naming one user's list (item ids and explanations), for de-duplicating work."""
    raw = json.dumps([tenant_id, user_id, [list(pair) for pair in items]], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def cache_key(generator: CopyGenerator, request: CopyRequest) -> str:
    raw = f"{generator.generator_name}|{PROMPT_VERSION}|{request.fingerprint()}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Writing under a budget


def write_copy(
    user: UserProfile | str,
    recommendations: Any,
    *,
    tenant: Tenant | str | None = None,
    generator: CopyGenerator | None = None,
    time_budget: float | None = None,
    use_cache: bool = True,
    retry_fallback: bool = False,
) -> Copy:
    """Copy for ``recommendations`` (a ``RecommendationList`` or a sequence of ``Recommendation``)
    shown to ``user``: from the cache, else written now (see the module docstring).
    ``retry_fallback``: a cached template fallback does not count (writing ahead of time)."""
    settings = copy_settings()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    profile = _resolve_user(user, tenant)
    items = getattr(recommendations, "items", recommendations)
    request = build_request(profile, items, tenant)
    item_ids = [r.item_id for r in list(items)[: int(settings["MAX_ITEMS"])]]
    if not request.items:
        return Copy(text="", generator_name=template_generator.generator_name, item_ids=item_ids)
    generator = generator if generator is not None else get_copy_generator()
    budget = float(settings["TIME_BUDGET_SECONDS"] if time_budget is None else time_budget)
    if budget <= 0:
        raise ValueError(f"The copy time budget must be positive, got {budget}.")
    key = cache_key(generator, request)
    now = timezone.now()
    if use_cache:
        row = RecommendationCopy.objects.filter(tenant=tenant, user=profile, key=key, expires_at__gt=now).first()
        if row is not None and not (retry_fallback and row.fell_back):
            return Copy(
                text=row.text,
                generator_name=row.generator_name,
                fell_back=row.fell_back,
                reason=row.reason,
                cached=True,
                seconds=row.seconds,
                item_ids=row.item_ids,
                attempted=row.generator_attempted,
                tenant_id=tenant.pk,
                user_id=profile.pk,
            )
    copy = produce_copy(generator, request, budget=budget, catalogue_titles=catalogue_title_lookup(tenant))
    copy.item_ids, copy.tenant_id, copy.user_id = item_ids, tenant.pk, profile.pk
    if use_cache:
        lifetime = settings["FALLBACK_CACHE_SECONDS"] if copy.fell_back else settings["CACHE_SECONDS"]
        if lifetime and float(lifetime) > 0:
            RecommendationCopy.objects.update_or_create(
                tenant=tenant,
                user=profile,
                key=key,
                defaults={
                    "item_ids": item_ids,
                    "text": copy.text,
                    "generator_name": copy.generator_name,
                    "fell_back": copy.fell_back,
                    "reason": copy.reason,
                    "seconds": round(copy.seconds, 4),
                    "generator_attempted": copy.attempted[:255],
                    "facts": fact_sheet(request),
                    "expires_at": timezone.now() + timedelta(seconds=float(lifetime)),
                },
            )
    return copy


# ---------------------------------------------------------------------------------------------
# Ahead of time, erasure, housekeeping


def precompute_copy(tenant: Tenant | str | int | None, user_ids: Iterable[int], *, k: int | None = None) -> int:
    """Write (and cache) copy for each user's current list with the ahead-of-time budget; returns
    how many were written rather than found in the cache. Unknown users are skipped."""
    tenant = resolve_tenant(tenant)
    budget = float(copy_settings()["AHEAD_OF_TIME_BUDGET_SECONDS"])
    k = int(k or copy_settings()["MAX_ITEMS"])
    written = 0
    for profile in UserProfile.objects.filter(tenant=tenant, pk__in=list(user_ids)).order_by("pk"):
        result = recommend_for_user(profile, tenant=tenant, k=k)
        copy = write_copy(profile, result, tenant=tenant, time_budget=budget, retry_fallback=True)
        written += 0 if copy.cached else 1
    return written


def write_list_copy_ahead(tenant: Tenant | str | int | None, user_id: int, items: Sequence[tuple[int, str]]) -> Copy:
    """Write (and cache) copy for the exact list a page showed (``(item id, explanation)`` pairs)
    with the ahead-of-time budget, so the page's next view finds it. A cached fallback is retried."""
    tenant = resolve_tenant(tenant)
    profile = UserProfile.objects.get(tenant=tenant, pk=user_id)
    shown = [_Shown(int(item_id), str(explanation)) for item_id, explanation in items]
    budget = float(copy_settings()["AHEAD_OF_TIME_BUDGET_SECONDS"])
    return write_copy(profile, shown, tenant=tenant, time_budget=budget, retry_fallback=True)


@dataclass(frozen=True)
class _Shown:
    item_id: int
    explanation: str


def active_user_ids(tenant: Tenant, days: float = 30) -> list[int]:
    """Users of ``tenant`` with an interaction in the last ``days`` days who allow personalisation."""
    since = timezone.now() - timedelta(days=days)
    return list(
        Interaction.objects.filter(tenant=tenant, timestamp__gte=since, user__personalisation_enabled=True)
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )


def forget_copy(user: UserProfile) -> int:
    """Delete every cached copy of a user (erasure requests); returns how many rows went."""
    return RecommendationCopy.forget(user)


def purge_expired_copy(tenant: Tenant | None = None) -> int:
    rows = RecommendationCopy.objects.filter(expires_at__lte=timezone.now())
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.delete()[0]
