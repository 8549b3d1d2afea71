"""API keys for servers calling the REST API."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from llmrec_django.models.catalogue import Tenant, TenantManager


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


# What a key may do beyond the public endpoints (``llmrec_django.api.permissions``):
# read: users' profiles, lists and conversations, experiments and reports; events: send events
# for any user and change their profiles; catalogue: write items and relations; privacy: export
# and erase users.
API_KEY_SCOPES = ("read", "events", "catalogue", "privacy")
DEFAULT_API_KEY_SCOPES = ("read", "events")


def default_api_key_scopes() -> list[str]:
    return list(DEFAULT_API_KEY_SCOPES)


class ApiKey(models.Model):
    """A key for server-to-server calls of the REST API (event ingestion, catalogue sync).

    Bound to one tenant, and allowed there what its ``scopes`` name (a new key: read and send
    events), until it is revoked or ``expires_at``. Only a hash is stored; the key itself is shown
    once, when staff issue it in the admin (``ApiKey.issue``). Sent as
    ``Authorization: Api-Key <key>``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, help_text="Who uses it, e.g. 'shop backend'.")
    prefix = models.CharField(
        max_length=12, editable=False, db_index=True, help_text="First characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    scopes = ArrayField(
        models.CharField(max_length=16, choices=[(scope, scope) for scope in API_KEY_SCOPES]),
        default=default_api_key_scopes,
        blank=True,
        help_text="read: users' data and reports; events: events for any user; catalogue: write items "
        "and relations; privacy: export and erase users.",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from then on (empty: never).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TenantManager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def set_new_key(self) -> str:
        """Give this key a new random secret; returns it (the only time it is readable)."""
        import secrets

        raw_key = "llmrec_" + secrets.token_urlsafe(32)
        self.prefix = raw_key[7:15]
        self.key_hash = hash_api_key(raw_key)
        return raw_key

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or ())

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @classmethod
    def issue(
        cls, tenant: Tenant, name: str, created_by: Any = None, *, scopes: Any = None, expires_at: Any = None
    ) -> tuple[ApiKey, str]:
        """A new active key and its secret (``scopes``: default read and events)."""
        key = cls(tenant=tenant, name=name, created_by=created_by, expires_at=expires_at)
        key.scopes = list(DEFAULT_API_KEY_SCOPES if scopes is None else scopes)
        raw_key = key.set_new_key()
        key.save()
        return key, raw_key

    @classmethod
    def find(cls, raw_key: str) -> ApiKey | None:
        """The active, unexpired key with this secret, if any."""
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        return (
            cls.objects.select_related("tenant")
            .filter(unexpired, key_hash=hash_api_key(raw_key), is_active=True)
            .first()
        )
