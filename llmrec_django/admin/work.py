"""Background work that needs a person: writes set aside because the database refused their data."""

from __future__ import annotations

from django.contrib import admin

from llmrec_django.models import QuarantinedWrite


@admin.register(QuarantinedWrite)
class QuarantinedWriteAdmin(admin.ModelAdmin):
    """Read-only: what was to be written and why the database refused it. Delete a row once
    understood; nothing retries it (the same data would be refused again)."""

    list_display = ["created_at", "kind", "tenant", "user", "short_error"]
    list_filter = ["kind", "tenant"]
    readonly_fields = ["kind", "tenant", "user", "payload", "error", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Error")
    def short_error(self, row: QuarantinedWrite) -> str:
        return row.error if len(row.error) <= 120 else row.error[:119] + "…"
