"""Request rates: per IP for anonymous callers, per account for users, per key for API keys.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` for the scopes ``llmrec_anon``,
``llmrec_user`` and ``llmrec_api_key`` when the site sets them, else from
``LLMREC["API_THROTTLE_RATES"]`` (``anon``, ``user``, ``api_key``). Counters live in Django's
default cache (use a shared cache such as Redis when several processes serve the API).
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from llmrec_django.conf import llmrec_settings
from llmrec_django.models import ApiKey


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
