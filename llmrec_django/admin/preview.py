"""The admin's recommendation preview: run the recommend service as a page would, and gather
what staff need to judge the answer (the user's profile and latest events, the list's source,
fallback reason, version, blend, timings, and per item score, sources and explanation).

Usage::

    form = PreviewForm(request.GET)          # llmrec_django.admin.forms
    if form.is_valid():
        outcome = preview.run(form)          # outcome.result, outcome.items, outcome.error ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmrec_django.copywriting.service import write_copy
from llmrec_django.database import vectorstore
from llmrec_django.models import Interaction, Tenant, UserProfile, UserVector
from llmrec_django.recommend import web
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.recommend.lists import RecommendationList, UnknownItem, UnknownUser, popular_items
from llmrec_django.recommend.rules import request_context
from llmrec_django.recommend.similar import similar_items
from llmrec_django.recommend.text_search import search

RECENT_EVENTS = 10


@dataclass
class PreviewOutcome:
    tenant: Tenant
    mode: str
    context: dict[str, Any]
    result: RecommendationList | None = None
    items: list[web.ShownItem] = field(default_factory=list)
    profile: UserProfile | None = None
    has_vector: bool = False
    events_total: int = 0
    recent_events: list[Interaction] = field(default_factory=list)
    copy: Any = None
    error: str = ""


def run(form: Any) -> PreviewOutcome:
    """The preview a valid ``PreviewForm`` asks for; an unknown user or item, or bad input, is
    reported in ``error`` rather than raised."""
    data = form.cleaned_data
    tenant = data["tenant"]
    outcome = PreviewOutcome(tenant=tenant, mode=data["mode"], context=request_context(form.context()))
    k, category = data["k"], data.get("category") or None
    try:
        if data["mode"] == "user":
            outcome.profile = UserProfile.objects.filter(tenant=tenant, external_id=data["user"].strip()).first()
            if outcome.profile is None:
                raise UnknownUser(f"No user {data['user'].strip()!r} in tenant {tenant.slug!r}.")
            outcome.result = recommend_for_user(
                outcome.profile, tenant=tenant, k=k, category=category, context=outcome.context
            )
            _describe_user(outcome)
        elif data["mode"] == "similar":
            outcome.result = similar_items(data["item"].strip(), tenant=tenant, k=k)
        elif data["mode"] == "search":
            outcome.result = search(data["query"], tenant=tenant, k=k, context=outcome.context)
        else:
            outcome.result = popular_items(
                tenant=tenant, k=k, category=category, context=outcome.context, reason="preview of the popular list"
            )
    except (UnknownUser, UnknownItem, ValueError) as exc:
        outcome.error = str(exc)
        return outcome
    outcome.items = web.shown_items(outcome.result)
    if data.get("with_copy") and outcome.profile is not None and outcome.result.items:
        outcome.copy = write_copy(outcome.profile, outcome.result, tenant=tenant)
    return outcome


def _describe_user(outcome: PreviewOutcome) -> None:
    profile = outcome.profile
    version = vectorstore.active_version(outcome.tenant)
    outcome.has_vector = bool(version) and UserVector.objects.filter(version=version, user=profile).exists()
    events = Interaction.objects.filter(user=profile)
    outcome.events_total = events.count()
    outcome.recent_events = list(events.select_related("item").order_by("-timestamp", "-pk")[:RECENT_EVENTS])
