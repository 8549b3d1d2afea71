"""Who is calling: a logged-in user (Django session, CSRF enforced on unsafe methods) or a
server holding an API key (``Authorization: Api-Key <key>``, see ``models.ApiKey``).

A key found active is remembered by the process for ``API_KEY_CACHE_SECONDS`` (a busy server
calls many times a second; each call would otherwise cost a query). Revoking or deleting a key
through the model (the admin, ``save()``, ``delete()``) forgets it at once in that process; other
processes, and a revocation by ``QuerySet.update()``, refuse it within those seconds. Unknown
and revoked keys are never remembered: each such call is looked up again.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from time import monotonic
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from llmrec_django.conf import llmrec_settings
from llmrec_django.database import caches
from llmrec_django.models import ApiKey, Tenant, hash_api_key

API_KEY_KEYWORD = "Api-Key"
# last_used_at is written at most this often per key (not on every request of a busy server).
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Keys remembered per process at most (a site has a handful; the bound is against surprises).
KEY_CACHE_SIZE = 1000

_lock = threading.Lock()
_active_keys: dict[str, tuple[ApiKey, float]] = {}  # key hash -> (key, remembered until: monotonic)


def find_active_key(raw_key: str) -> ApiKey | None:
    """``ApiKey.find`` through the process's memory of active keys (see the module docstring)."""
    seconds = float(llmrec_settings.API_KEY_CACHE_SECONDS)
    digest = hash_api_key(raw_key)
    now = monotonic()
    if seconds > 0:
        remembered = _active_keys.get(digest)
        if remembered is not None and remembered[1] > now and not remembered[0].is_expired:
            return remembered[0]
    api_key = ApiKey.find(raw_key)
    with _lock:
        if api_key is None or seconds <= 0:
            _active_keys.pop(digest, None)
        else:
            if len(_active_keys) >= KEY_CACHE_SIZE:
                _active_keys.clear()
            _active_keys[digest] = (api_key, now + seconds)
    return api_key


def forget_keys(**_kwargs: Any) -> None:
    """Forget every remembered key (a key or a tenant changed, or tests)."""
    with _lock:
        _active_keys.clear()


caches.register(forget_keys)
for _model in (ApiKey, Tenant):
    post_save.connect(forget_keys, sender=_model, dispatch_uid=f"llmrec-api-keys-save-{_model.__name__}")
    post_delete.connect(forget_keys, sender=_model, dispatch_uid=f"llmrec-api-keys-delete-{_model.__name__}")


class ApiKeyUser:
    """``request.user`` for a call made with an API key: authenticated, not a Django account."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``; a wrong or revoked key is a 401, never a silent anonymous."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != API_KEY_KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Invalid Api-Key header: give exactly one key after 'Api-Key'.")
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeError:
            raise AuthenticationFailed("Invalid API key.") from None
        api_key = find_active_key(raw_key)
        if api_key is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now  # the remembered key too: one write a minute, not one a call
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'{API_KEY_KEYWORD} realm="api"'
