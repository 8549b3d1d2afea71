"""Template tags: recommendation lists, similar items and a search box for any page.

Usage (``LLMREC["ITEM_URL"]`` tells the lists how to link an item)::

    {% load llmrec %}
    {% llmrec_recommendations k=8 with_copy=True %}          {# the visitor's "for you" list #}
    {% llmrec_recommendations user="user-005" category="books" title="Books for you" %}
    {% llmrec_similar_items item k=4 %}                        {# an Item or an external id #}
    {% llmrec_search_box action="/search/" %}
    {% llmrec_search_results request.GET.q k=10 %}
    {% llmrec_tracking_script %}                               {# once per page, before </body> #}

Each list tag renders ``llmrec_django/tags/<name>.html``; a site overrides the markup by putting
a template with the same path in its own templates (``DIRS``, or an app listed before
``llmrec_django``). Lists carry ``data-llmrec-list`` (its name), ``data-llmrec-source`` and, per
item, ``data-llmrec-item`` (external id) and ``data-llmrec-position`` (1-based), which the
tracking script (``static/llmrec_django/tracking.js``) reads to post impressions and clicks.

Who a list is for: ``user`` (a UserProfile, an external id or a Django user), else the logged-in
visitor's linked profile. Anonymous visitors, and accounts without a profile yet, get the
popularity list. The request's context (device from the User-Agent, time of day) goes to the
service, so context rules apply. A failing recommender renders nothing and is logged; it never
breaks the page.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.middleware.csrf import get_token
from django.urls import NoReverseMatch, reverse
from django.utils.crypto import salted_hmac

from llmrec_django.conf.backends import get_copy_generator
from llmrec_django.copywriting.service import write_copy
from llmrec_django.core.storable import storable_text
from llmrec_django.models import Item, UserProfile
from llmrec_django.recommend import serving, web
from llmrec_django.recommend.lists import UnknownUser
from llmrec_django.tasks import queue_list_copy

logger = logging.getLogger(__name__)
register = template.Library()


def _profile_for(user: Any, request: Any, tenant: Any) -> UserProfile | str | None:
    """The profile a list is for: the given one, else the visitor's linked profile, else None
    (also when it cannot be found out, e.g. an unknown tenant: logged, the page still renders)."""
    if isinstance(user, UserProfile | str) and user:
        return _text(user) if isinstance(user, str) else user
    try:
        if user is not None and hasattr(user, "is_authenticated"):  # a Django account
            return web.account_profile(user, tenant)
        return web.account_profile(getattr(request, "user", None), tenant)
    except Exception:  # noqa: BLE001 - a tag never breaks its page
        logger.exception("Could not find the visitor's profile for a list tag; showing an unpersonalised list.")
        return None


def _text(value: Any) -> str:
    """A tag argument shown in the page or passed on: text without NULs and lone surrogates (a
    response could not be encoded with one, and the database cannot store either)."""
    return "" if value is None else storable_text(str(value))


def _list_context(name: str, result, *, title: Any, request: Any, **extra: Any) -> dict[str, Any]:
    return {
        "list_name": name,
        "result": result,
        "items": web.shown_items(result),
        "title": _text(title),
        "request": request,
        **extra,
    }


@register.inclusion_tag("llmrec_django/tags/recommendations.html", takes_context=True)
def llmrec_recommendations(
    context,
    user: Any = None,
    k: int | None = None,
    category: str | None = None,
    with_copy: bool = False,
    title: str = "Recommended for you",
    tenant: Any = None,
):
    """A user's personalised list (the visitor's by default), with copy when ``with_copy``."""
    request = context.get("request")
    request_context = web.request_context(request)
    profile = _profile_for(user, request, tenant)
    if profile is None:
        result = web.safe_list(
            "popular",
            lambda: serving.popular(tenant=tenant, k=k, category=category or None, context=request_context),
        )
    else:

        def personalised():
            try:
                return serving.for_user(profile, tenant=tenant, k=k, category=category or None, context=request_context)
            except UnknownUser:
                logger.warning("No user %r for a recommendations tag; showing popular items.", profile)
                return serving.popular(
                    tenant=tenant, k=k, category=category or None, context=request_context, reason="unknown user"
                )

        result = web.safe_list("recommendations", personalised)
    copy = None
    if with_copy and profile is not None and result is not None and result.items:
        try:
            arm_generator = _copy_generator(result)
            copy = write_copy(profile, result, tenant=tenant, generator=arm_generator)
            if copy.timed_out and arm_generator is None:
                queue_list_copy(copy.tenant_id, copy.user_id, result, copy)
        except Exception:  # noqa: BLE001 - the list shows without its copy
            logger.exception("Could not write recommendation copy; the list shows without it.")
    return _list_context(
        "recommendations", result, title=title, request=request, copy=copy, personalised=profile is not None
    )


def _copy_generator(result: Any) -> Any:
    """The copy generator of the experiment arm that served ``result``, if it names one."""
    path = getattr(result, "copy_generator", None)
    if not path:
        return None
    try:
        return get_copy_generator(path)
    except ImproperlyConfigured as exc:  # an arm saved before the site withdrew its generator
        logger.warning("Experiment copy generator refused; the configured one writes instead: %s", exc)
        return None


@register.inclusion_tag("llmrec_django/tags/similar_items.html", takes_context=True)
def llmrec_similar_items(context, item: Item | str, k: int | None = None, title: str = "Similar items", tenant=None):
    """Items like ``item``; what the visitor already consumed is left out."""
    request = context.get("request")
    profile = _profile_for(None, request, tenant)
    result = web.safe_list("similar", lambda: serving.similar(item, tenant=tenant, k=k, user=profile))
    anchor = item.external_id if isinstance(item, Item) else _text(item)
    return _list_context("similar", result, title=title, request=request, anchor=anchor)


@register.inclusion_tag("llmrec_django/tags/search_box.html", takes_context=True)
def llmrec_search_box(context, action: str = "", placeholder: str = "Describe what you are looking for", name="q"):
    """A GET form for natural-language search; ``action`` is the results page (default: this one)."""
    request = context.get("request")
    name = _text(name)
    value = request.GET.get(name, "") if request is not None else ""
    return {"action": _text(action), "placeholder": _text(placeholder), "name": name, "value": _text(value)}


@register.inclusion_tag("llmrec_django/tags/search_results.html", takes_context=True)
def llmrec_search_results(context, query: str | None, k: int | None = None, title: str = "Results", tenant=None):
    """Items matching ``query``, personalised for the logged-in visitor; nothing for an empty query."""
    request = context.get("request")
    query = _text(query).strip()
    result = None
    if query:
        profile = _profile_for(None, request, tenant)
        result = web.safe_list(
            "search",
            lambda: serving.search(query, tenant=tenant, user=profile, k=k, context=web.request_context(request)),
        )
    return _list_context("search", result, title=title, request=request, query=query)


@register.inclusion_tag("llmrec_django/tags/tracking_script.html", takes_context=True)
def llmrec_tracking_script(context):
    """The tracking script, enabled for logged-in visitors when the REST API is mounted. Events
    not yet delivered wait in the tab's storage marked with an opaque token of the account
    (``owner``); the script drops a queue left by another account, and an anonymous page (after
    logging out) empties it, so one person's events are never sent under another's login."""
    request = context.get("request")
    try:
        endpoint = reverse("llmrec_api:events-bulk")
    except NoReverseMatch:
        endpoint = ""
    user = getattr(request, "user", None)
    enabled = bool(endpoint and user is not None and user.is_authenticated)
    if enabled:
        get_token(request)  # makes sure the CSRF cookie is set for the script's POSTs
    return {
        "endpoint": endpoint,
        "enabled": enabled,
        "owner": tracking_owner(user) if enabled else "",
        "csrf_cookie": settings.CSRF_COOKIE_NAME,
        "device": web.device_from_user_agent(request.META.get("HTTP_USER_AGENT", "")) if request else "",
    }


def tracking_owner(user: Any) -> str:
    """An opaque, stable token of an account for the tracking queue (it does not reveal the id)."""
    return salted_hmac("llmrec_django.tracking.owner", str(user.pk)).hexdigest()[:24]
