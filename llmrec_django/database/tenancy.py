"""Which catalogue a call works on. Services take a tenant; these turn what callers have
(nothing, a slug, an id, a Tenant) into one."""

from __future__ import annotations

from llmrec_django.conf import llmrec_settings
from llmrec_django.models import Tenant


class UnknownTenant(LookupError):
    pass


def get_default_tenant() -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(
        slug=llmrec_settings.DEFAULT_TENANT, defaults={"name": llmrec_settings.DEFAULT_TENANT.title()}
    )
    return tenant


def resolve_tenant(tenant: Tenant | str | int | None = None) -> Tenant:
    """A Tenant from a Tenant, a slug, a primary key, or None (the default tenant)."""
    if tenant is None:
        return get_default_tenant()
    if isinstance(tenant, Tenant):
        return tenant
    try:
        if isinstance(tenant, int):
            return Tenant.objects.get(pk=tenant)
        return Tenant.objects.get(slug=tenant)
    except Tenant.DoesNotExist:
        raise UnknownTenant(f"No tenant {tenant!r}.") from None
