"""The example shop's pages. They use llmrec_django as a site owner would: the catalogue from
``Item``, and every list (for you, similar items, search results) through the ``{% load llmrec %}``
template tags, which call the recommend service and mark the lists up for the tracking script.

- ``/``: the catalogue, paginated, with a category filter and a short "for you" strip
- ``/items/<external_id>/``: an item with similar items (the page records a "view")
- ``/for-you/``: the visitor's recommendations with copy
- ``/search/?q=``: natural-language search
- ``/chat/``: conversational recommendations (the conversations API, from ``static/shop/chat.js``)
- ``/accounts/signup/``, ``/accounts/login/``, ``/accounts/logout/``
"""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render

from example_site.shop.forms import SignUpForm
from llmrec_django import signals, web
from llmrec_django.models import Item
from llmrec_django.tenancy import get_default_tenant

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


def signup(request):
    if request.user.is_authenticated:
        return redirect("shop:for_you")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            profile = web.account_profile(user, create=True)
            interests = form.cleaned_data["interests"].strip()
            if interests:
                profile.profile_text = interests
                profile.save(update_fields=["profile_text", "updated_at"])
                signals.users_changed(profile.tenant_id, [profile.pk])  # a first interest vector from the text
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("shop:for_you")
    return render(request, "registration/signup.html", {"form": form, "nav": "signup"})
