"""The e-mail digest's links (``llmrec_django.recommend.digest``): a tracked item link, which
records the click and redirects to the item's page, and the unsubscribe page. Plain Django views
for browsers and mail clients: the signed token in the URL is the only credential they take
(a mail client's one-click unsubscribe, RFC 8058, posts without a CSRF token or a session)."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from llmrec_django.recommend import digest

NOT_FOUND = "This link is not valid (it may have been cut short by the e-mail program)."


@never_cache
@require_GET
def digest_click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        click = digest.record_click(token)
    except signing.BadSignature:
        return HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")
    return HttpResponseRedirect(click.redirect_to or "/")


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with a button (a link opened by a mail scanner changes nothing); POST (the
    button, or a mail client's one-click request): unsubscribed."""
    try:
        digest.read_token(token, digest.UNSUBSCRIBE_SALT)
        profile = digest.unsubscribe(token) if request.method == "POST" else None
    except signing.BadSignature:
        return HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")
    page = render_to_string(
        "llmrec_django/email/unsubscribe.html", {"done": request.method == "POST", "profile": profile}, request
    )
    return HttpResponse(page)
