"""Who is calling: a logged-in user (Django session, CSRF enforced on unsafe methods) or a
server holding an API key (``Authorization: Api-Key <key>``, see ``models.ApiKey``)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from llmrec_django.models import ApiKey

API_KEY_KEYWORD = "Api-Key"
# last_used_at is written at most this often per key (not on every request of a busy server).
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        api_key = ApiKey.find(raw_key)
        if api_key is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'{API_KEY_KEYWORD} realm="api"'
