"""Request rates: per IP for anonymous callers, per account for users, per key for API keys.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` for the scopes ``llmrec_anon``,
``llmrec_user`` and ``llmrec_api_key`` when the site sets them, else from
``LLMREC["API_THROTTLE_RATES"]`` (``anon``, ``user``, ``api_key``). Counters live in Django's
default cache (use a shared cache such as Redis when several processes serve the API).

Anonymous callers are counted by ``client_address``: the connection's address, or behind
``LLMREC["TRUSTED_PROXIES"]`` proxies the address the nearest of them saw, never an address the
client wrote itself (an ``X-Forwarded-For`` of its own choosing would give it a fresh counter per
request).
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from llmrec_django.conf import llmrec_settings
from llmrec_django.models import ApiKey


def trusted_proxies() -> int:
    configured = llmrec_settings.TRUSTED_PROXIES
    if configured is None:
        configured = api_settings.NUM_PROXIES
    return max(0, int(configured or 0))


def client_address(request) -> str:
    """The caller's address: ``REMOTE_ADDR``, or with N trusted proxies the N-th address from
    the end of ``X-Forwarded-For`` (each proxy appends the address it received the request from)."""
    remote = request.META.get("REMOTE_ADDR") or ""
    proxies = trusted_proxies()
    forwarded = [part.strip() for part in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
    if proxies == 0 or not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


class _LLMRecThrottle(SimpleRateThrottle):
    kind = ""

    def __init__(self):
        # The rate is read per request (not at import), so changed settings apply at once.
        pass

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope in rates:
            return rates[self.scope]
        return llmrec_settings.API_THROTTLE_RATES.get(self.kind)

    def get_ident(self, request) -> str:
        return client_address(request)

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class AnonThrottle(_LLMRecThrottle):
    scope = "llmrec_anon"
    kind = "anon"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_LLMRecThrottle):
    scope = "llmrec_user"
    kind = "user"

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiKey) or not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ApiKeyThrottle(_LLMRecThrottle):
    scope = "llmrec_api_key"
    kind = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
