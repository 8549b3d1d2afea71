"""Write recommendation copy for a user's list: the configured generator under a time budget,
validated, with the template as the fallback, cached in the database.

Usage::

    from llmrec_django.copywriting.service import write_copy

    copy = write_copy("user-005", recommend_for_user("user-005", k=5))
    copy.text, copy.html, copy.generator_name, copy.fell_back, copy.reason, copy.cached

The generator runs in a daemon thread; the caller waits at most ``TIME_BUDGET_SECONDS``
(``AHEAD_OF_TIME_BUDGET_SECONDS`` for copy written ahead of time by the ``generate_copy`` Celery
task or ``llmrec_copy``). On a timeout, an exception or text that fails ``validate_copy``, the
template's copy is returned with ``fell_back=True`` and the reason. Copy is cached per (tenant,
user, hash of generator + prompt version + facts) for ``CACHE_SECONDS``; a fallback only for
``FALLBACK_CACHE_SECONDS``, so the model gets another chance soon.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString

from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.backends import get_copy_generator
from llmrec_django.copywriting.base import CopyGenerator, CopyRequest, ItemFacts
from llmrec_django.copywriting.prompt import PROMPT_VERSION
from llmrec_django.copywriting.template import TemplateCopyGenerator
from llmrec_django.copywriting.validate import CopyRejected, validate_copy
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Interaction, Item, RecommendationCopy, Tenant, UserProfile
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.recommend.lists import UnknownUser

logger = logging.getLogger(__name__)

ATTRIBUTES_PER_ITEM = 4
MAX_ATTRIBUTE_CHARS = 60
DESCRIPTION_CHARS = 200
PROFILE_CHARS = 300

_template = TemplateCopyGenerator()


@dataclass
class Copy:
    """Copy for one list. ``text`` is plain; ``html`` is it escaped for a template."""

    text: str
    generator_name: str
    fell_back: bool = False
    reason: str = ""
    cached: bool = False
    seconds: float = 0.0
    item_ids: list[int] = field(default_factory=list)

    @property
    def html(self) -> SafeString:
        return escape(self.text)

    def __str__(self) -> str:
        return self.text


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


def _short(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _attributes(attributes: Any) -> tuple[tuple[str, str], ...]:
    """A few scalar attributes, as short text (lists, dicts and long values are left out)."""
    pairs = []
    for key, value in (attributes or {}).items() if isinstance(attributes, dict) else ():
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            continue
        text = _short(value, MAX_ATTRIBUTE_CHARS + 1)
        if len(text) <= MAX_ATTRIBUTE_CHARS:
            pairs.append((_short(key, 40).replace("_", " "), text))
        if len(pairs) == ATTRIBUTES_PER_ITEM:
            break
    return tuple(pairs)


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
        items.append(
            ItemFacts(
                external_id=row["external_id"],
                title=" ".join(row["title"].split()),
                category=_short(row["category"], 80) if row["category"] else "",
                attributes=_attributes(row["attributes"]),
                description=_short(row["description"], DESCRIPTION_CHARS) if row["description"] else "",
                explanation=_short(getattr(rec, "explanation", "") or "", 200),
            )
        )
    text = (
        _short(profile.profile_text, PROFILE_CHARS) if profile.personalisation_enabled and profile.profile_text else ""
    )
    return CopyRequest(items=tuple(items), profile=text, max_chars=int(settings["MAX_CHARS"]))


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


def cache_key(generator: CopyGenerator, request: CopyRequest) -> str:
    raw = f"{generator.generator_name}|{PROMPT_VERSION}|{request.fingerprint()}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Writing under a budget


class _Timeout(Exception):
    pass


def _run_with_budget(generator: CopyGenerator, request: CopyRequest, budget: float) -> str:
    """The generator's text, or ``_Timeout`` after ``budget`` seconds (the thread is left to end
    on its own: it is a daemon, and the generators stop at the budget they were given)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["text"] = generator.generate(request, timeout=budget)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="llmrec-copy", daemon=True).start()
    if not done.wait(budget):
        raise _Timeout(f"no copy within the {budget:g}s budget")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["text"]


def produce_copy(
    generator: CopyGenerator,
    request: CopyRequest,
    *,
    budget: float,
    catalogue_titles: Any = None,
) -> Copy:
    """Run ``generator`` for ``request``; the template's copy when it fails (never raises for a
    generator's sake)."""
    started = time.perf_counter()
    if not generator.needs_validation:
        text = generator.generate(request, timeout=budget)
        return Copy(text=text, generator_name=generator.generator_name, seconds=time.perf_counter() - started)
    try:
        raw = _run_with_budget(generator, request, budget)
        text = validate_copy(raw, request, catalogue_titles=catalogue_titles)
        return Copy(text=text, generator_name=generator.generator_name, seconds=time.perf_counter() - started)
    except _Timeout as exc:
        reason = f"timeout: {exc}"
    except CopyRejected as exc:
        reason = f"rejected: {exc.reason}"
    except Exception as exc:  # noqa: BLE001 - any generator trouble means: use the template
        reason = f"error: {type(exc).__name__}: {exc}"
    logger.info("Copy by %s fell back to the template (%s).", generator.generator_name, reason)
    return Copy(
        text=_template.generate(request),
        generator_name=_template.generator_name,
        fell_back=True,
        reason=reason[:500],
        seconds=time.perf_counter() - started,
    )


def write_copy(
    user: UserProfile | str,
    recommendations: Any,
    *,
    tenant: Tenant | str | None = None,
    generator: CopyGenerator | None = None,
    time_budget: float | None = None,
    use_cache: bool = True,
) -> Copy:
    """Copy for ``recommendations`` (a ``RecommendationList`` or a sequence of ``Recommendation``)
    shown to ``user``: from the cache, else written now (see the module docstring)."""
    settings = copy_settings()
    tenant = resolve_tenant(tenant if tenant is not None else getattr(user, "tenant", None))
    profile = _resolve_user(user, tenant)
    items = getattr(recommendations, "items", recommendations)
    request = build_request(profile, items, tenant)
    item_ids = [r.item_id for r in list(items)[: int(settings["MAX_ITEMS"])]]
    if not request.items:
        return Copy(text="", generator_name=_template.generator_name, item_ids=item_ids)
    generator = generator if generator is not None else get_copy_generator()
    budget = float(settings["TIME_BUDGET_SECONDS"] if time_budget is None else time_budget)
    if budget <= 0:
        raise ValueError(f"The copy time budget must be positive, got {budget}.")
    key = cache_key(generator, request)
    now = timezone.now()
    if use_cache:
        row = RecommendationCopy.objects.filter(tenant=tenant, user=profile, key=key, expires_at__gt=now).first()
        if row is not None:
            return Copy(
                text=row.text,
                generator_name=row.generator_name,
                fell_back=row.fell_back,
                reason=row.reason,
                cached=True,
                seconds=row.seconds,
                item_ids=row.item_ids,
            )
    copy = produce_copy(generator, request, budget=budget, catalogue_titles=catalogue_title_lookup(tenant))
    copy.item_ids = item_ids
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
        copy = write_copy(profile, result, tenant=tenant, time_budget=budget)
        written += 0 if copy.cached else 1
    return written


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
