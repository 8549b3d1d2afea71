"""What a health check reads: whether the database answers, and the background work of a tenant
that waits (the outbox) or needs a person (work given up, writes set aside)."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection

from llmrec_django.models import PendingWork, QuarantinedWrite, Tenant

logger = logging.getLogger(__name__)


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError as exc:
        logger.warning("Health check: the database does not answer (%s).", exc)
        return False


def work_counts(tenant: Tenant) -> dict[str, int]:
    """The tenant's outbox work waiting and given up, and its writes set aside."""
    outbox = PendingWork.objects.filter(tenant_id=tenant.pk)
    return {
        "outbox_pending": outbox.filter(given_up_at__isnull=True).count(),
        "outbox_given_up": outbox.filter(given_up_at__isnull=False).count(),
        "quarantined_writes": QuarantinedWrite.objects.filter(tenant_id=tenant.pk).count(),
    }
