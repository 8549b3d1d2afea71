"""The example shop's pages. They use llmrec_django as a site owner would: the catalogue from
``Item``, and every list (for you, similar items, search results) through the ``{% load llmrec %}``
template tags, which call the recommend service and mark the lists up for the tracking script.

- ``/``: the catalogue, paginated, with a category filter and a short "for you" strip
- ``/items/<external_id>/``: an item with similar items (the page records a "view")
- ``/for-you/``: the visitor's recommendations with copy
- ``/search/?q=``: natural-language search
- ``/chat/``: conversational recommendations (the conversations API, from ``static/shop/chat.js``)
- ``/interests/``: the interest profile the shop holds for the visitor: read, edit, reset to what
  was learned, personalisation on or off (``llmrec_django.catalogue.interest_profile``)
- ``/accounts/signup/``, ``/accounts/login/``, ``/accounts/logout/``
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render

from example_site.shop.forms import InterestProfileForm, SignUpForm
from llmrec_django.catalogue import interest_profile
from llmrec_django.database.tenancy import get_default_tenant
from llmrec_django.models import Item
from llmrec_django.recommend import web

ITEMS_PER_PAGE = 24
EXAMPLE_QUERIES = [
    "a gentle film for a rainy evening",
    "cheap trail running shoes",
    "books about the sea under $20",
    "推荐给我一些好看的电影",
]


def catalogue(request):
    tenant = get_default_tenant()
    items = Item.objects.for_tenant(tenant).filter(is_active=True).order_by("category", "title")
    categories = list(
        Item.objects.for_tenant(tenant).filter(is_active=True).exclude(category="")
        .order_by("category").values_list("category", flat=True).distinct()
    )  # fmt: skip
    category = request.GET.get("category", "")
    if category:
        items = items.filter(category=category)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "shop/catalogue.html",
        {"page": page, "categories": categories, "category": category, "nav": "catalogue"},
    )


def item_detail(request, external_id: str):
    item = Item.objects.for_tenant(get_default_tenant()).filter(external_id=external_id, is_active=True).first()
    if item is None:
        raise Http404("No such item.")
    facts = sorted((key, value) for key, value in (item.attributes or {}).items() if not isinstance(value, dict | list))
    return render(request, "shop/item.html", {"item": item, "facts": facts, "nav": "catalogue"})


def for_you(request):
    return render(request, "shop/for_you.html", {"nav": "for_you"})


def search_page(request):
    return render(
        request, "shop/search.html", {"nav": "search", "query": request.GET.get("q", ""), "examples": EXAMPLE_QUERIES}
    )


@login_required
def chat(request):
    return render(request, "shop/chat.html", {"nav": "chat"})


INTEREST_ACTIONS = {
    "save": "Saved: your recommendations now start from your words.",
    "reset": "Reset to what we learned from your activity.",
    "personalisation_off": "Personalisation is off: you now see what is popular.",
    "personalisation_on": "Personalisation is on again.",
}


@login_required
def interests(request):
    """The visitor's interest profile; each button posts its ``action`` and comes back here."""
    profile = web.account_profile(request.user, create=True)
    form = InterestProfileForm(initial={"profile_text": profile.profile_text})
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in INTEREST_ACTIONS:
            return HttpResponseBadRequest("Unknown action.")
        if action == "save":
            form = InterestProfileForm(request.POST)
            if not form.is_valid():
                return render(request, "shop/interests.html", _interests_context(profile, form), status=400)
            interest_profile.update(profile, text=form.cleaned_data["profile_text"])
        elif action == "reset":
            interest_profile.update(profile, reset=True)
        else:
            interest_profile.update(profile, personalisation_enabled=action == "personalisation_on")
        messages.success(request, INTEREST_ACTIONS[action])
        return redirect("shop:interests")
    return render(request, "shop/interests.html", _interests_context(profile, form))


def _interests_context(profile, form) -> dict:
    return {"shown": interest_profile.describe(profile), "form": form, "nav": "interests"}


def signup(request):
    if request.user.is_authenticated:
        return redirect("shop:for_you")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            profile = web.account_profile(user, create=True)
            interests = form.cleaned_data["interests"]
            if interests:  # the user's own words; their first interest vector is made from them
                interest_profile.update(profile, text=interests)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("shop:for_you")
    return render(request, "registration/signup.html", {"form": form, "nav": "signup"})
