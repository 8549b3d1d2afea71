"""What pages need from a request: its context (device from the User-Agent, time of day), the
visitor's recommendation profile, item links, and lists that never break a page.

Used by the template tags (``templatetags/llmrec.py``), the admin preview and the example site::

    from llmrec_django import web

    context = web.request_context(request)          # {"device": "mobile", "time_of_day": "evening"}
    profile = web.account_profile(request.user)     # the UserProfile linked to the account, or None
    shown = web.shown_items(result, list_name="recommendations")   # rows for a template

Accounts and profiles: a logged-in account's profile is the ``UserProfile`` linked to it in the
tenant (``UserProfile.user``); ``account_profile(user, create=True)`` makes one with the external id
``account-<pk>``, the same scheme the REST API uses for an account's first event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse

from llmrec_django.conf import llmrec_settings
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import ACCOUNT_PROFILE_ID, Item, Tenant, UserProfile
from llmrec_django.recommend.lists import RecommendationList
from llmrec_django.recommend.rules import request_context as with_time_of_day

logger = logging.getLogger(__name__)

_TABLET = re.compile(r"iPad|Tablet|PlayBook|Silk|Kindle|Android(?!.*Mobile)", re.IGNORECASE)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini", re.IGNORECASE)


def device_from_user_agent(user_agent: str) -> str:
    """ "tablet", "mobile" or "desktop" (the default, also for an empty User-Agent)."""
    user_agent = user_agent or ""
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"


def request_context(request: Any) -> dict[str, Any]:
    """The recommend service's context for a request: device and time of day (local time)."""
    context: dict[str, Any] = {}
    if request is not None:
        context["device"] = device_from_user_agent(request.META.get("HTTP_USER_AGENT", ""))
    return with_time_of_day(context)


def account_profile(user: Any, tenant: Tenant | str | None = None, *, create: bool = False) -> UserProfile | None:
    """The profile linked to a logged-in account in ``tenant`` (default tenant); ``create`` makes
    one (``account-<pk>``) when there is none. None for anonymous visitors."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    tenant = resolve_tenant(tenant)
    profile = UserProfile.objects.filter(tenant=tenant, user_id=user.pk).first()
    if profile is not None or not create:
        return profile
    try:
        with transaction.atomic():
            return UserProfile.objects.create(
                tenant=tenant, user_id=user.pk, external_id=ACCOUNT_PROFILE_ID.format(pk=user.pk)
            )
    except IntegrityError:  # created meanwhile, or the id is taken by an unlinked profile
        return UserProfile.objects.filter(tenant=tenant, user_id=user.pk).first()


def item_url(external_id: str) -> str:
    """The site's page for an item, from ``LLMREC["ITEM_URL"]``: a URL name taking
    ``external_id`` or a format string with ``{external_id}``; "" when unset or unresolvable."""
    pattern = llmrec_settings.ITEM_URL
    if not pattern:
        return ""
    if "{" in pattern:
        return pattern.format(external_id=quote(external_id, safe=""))
    try:
        return reverse(pattern, kwargs={"external_id": external_id})
    except NoReverseMatch:
        logger.warning("LLMREC['ITEM_URL'] %r does not reverse with external_id=%r.", pattern, external_id)
        return ""


@dataclass
class ShownItem:
    """One item of a rendered list: what templates show and what tracking sends."""

    position: int  # 1-based
    external_id: str
    title: str
    category: str
    explanation: str
    score: float
    sources: tuple[str, ...]
    url: str
    item: Item | None  # the catalogue row (description, attributes, image_url)

    @property
    def price(self) -> Any:
        return (self.item.attributes or {}).get("price") if self.item is not None else None


def shown_items(result: RecommendationList | None) -> list[ShownItem]:
    """The list's items with their catalogue rows and links, in order (one query)."""
    if result is None:
        return []
    rows = Item.objects.in_bulk([r.item_id for r in result.items])
    shown = []
    for position, rec in enumerate(result.items, start=1):
        row = rows.get(rec.item_id)
        shown.append(
            ShownItem(
                position=position,
                external_id=rec.external_id,
                title=rec.title,
                category=row.category if row else "",
                explanation=rec.explanation,
                score=rec.score,
                sources=tuple(rec.sources),
                url=item_url(rec.external_id),
                item=row,
            )
        )
    return shown


def safe_list(what: str, call: Callable[[], RecommendationList]) -> RecommendationList | None:
    """``call()``, or None (logged) when it raises: a failing recommender never breaks a page."""
    try:
        return call()
    except Exception:  # noqa: BLE001 - a page renders without the list rather than fail
        logger.exception("Could not build the %s list; the page renders without it.", what)
        return None
