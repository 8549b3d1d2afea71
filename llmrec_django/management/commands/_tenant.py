"""Shared argument handling of the llmrec_* commands."""

from django.core.management.base import CommandError

from llmrec_django.database.tenancy import UnknownTenant, resolve_tenant


def add_tenant_argument(parser) -> None:
    parser.add_argument("--tenant", help="Tenant slug (default: the default tenant).")


def tenant_from_options(options):
    try:
        return resolve_tenant(options.get("tenant"))
    except UnknownTenant as exc:
        raise CommandError(str(exc)) from None
