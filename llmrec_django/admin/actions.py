"""Helpers shared by the admin screens: preview links, an action applied to each selected object."""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from llmrec_django.database import vectorstore


def preview_url(**params: object) -> str:
    """The preview page, filled in with ``params`` (mode, user, item, query, tenant ...)."""
    url = reverse("admin:llmrec_django_recommendationpreview_changelist")
    return f"{url}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}" if params else url


def _preview_link(label: str, **params: object) -> str:
    return format_html('<a href="{}">{}</a>', preview_url(**params), label)


def apply_each(model_admin, request, objects, operation, error: type[Exception], label, done) -> None:
    """Run ``operation`` on each object; an ``error`` becomes an error message naming
    ``label(obj)``, success the message ``done(obj, result)``. Later objects still run."""
    for obj in objects:
        try:
            result = operation(obj)
        except error as exc:
            model_admin.message_user(request, f"{label(obj)}: {exc}", messages.ERROR)
        else:
            model_admin.message_user(request, done(obj, result))


def roll_back_tenants(model_admin, request, tenants) -> None:
    """Re-activate the previously active embedding version of each tenant."""
    apply_each(
        model_admin, request, tenants, vectorstore.rollback, vectorstore.VersionStateError,
        label=str, done=lambda tenant, version: f"{tenant}: version {version.pk} is active again.",
    )  # fmt: skip
