"""Writes set aside: a background write the database refused for its data (not for being away)
becomes a ``QuarantinedWrite`` row, so that it never holds up the writes queued behind it and
staff can see what it was (admin) and how many there are (the health endpoint)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction

from llmrec_django.core.storable import storable_json, storable_text
from llmrec_django.models import QuarantinedWrite

logger = logging.getLogger(__name__)


def quarantine(kind: str, error: BaseException, *, tenant_id: int | None, user_id: int | None, payload: Any) -> None:
    """Set aside a write the database refused for its data (``QuarantinedWrite``); if even that
    cannot be written, the log line is all that is left."""
    try:
        with transaction.atomic():
            QuarantinedWrite.objects.create(
                kind=kind,
                tenant_id=tenant_id,
                user_id=user_id,
                payload=storable_json(payload),
                error=storable_text(f"{type(error).__name__}: {error}")[:10_000],
            )
    except (DatabaseError, ValueError, TypeError):
        logger.exception("Could not set aside a refused %s write either; it is dropped.", kind)
