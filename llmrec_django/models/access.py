"""API keys for servers calling the REST API."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models

from llmrec_django.models.catalogue import Tenant, TenantManager


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class ApiKey(models.Model):
    """A key for server-to-server calls of the REST API (event ingestion, catalogue sync).

    Bound to one tenant and trusted like staff inside it. Only a hash is stored; the key itself is
    shown once, when staff issue it in the admin (``ApiKey.issue``). Sent as
    ``Authorization: Api-Key <key>``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, help_text="Who uses it, e.g. 'shop backend'.")
    prefix = models.CharField(
        max_length=12, editable=False, db_index=True, help_text="First characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
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

    @classmethod
    def issue(cls, tenant: Tenant, name: str, created_by: Any = None) -> tuple[ApiKey, str]:
        """A new active key and its secret."""
        key = cls(tenant=tenant, name=name, created_by=created_by)
        raw_key = key.set_new_key()
        key.save()
        return key, raw_key

    @classmethod
    def find(cls, raw_key: str) -> ApiKey | None:
        """The active key with this secret, if any."""
        return cls.objects.select_related("tenant").filter(key_hash=hash_api_key(raw_key), is_active=True).first()
