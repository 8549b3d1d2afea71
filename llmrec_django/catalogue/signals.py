"""Keeps vectors fresh: catalogue and behaviour changes queue re-embedding after the commit
(through ``llmrec_django.database.outbox``, written in the caller's transaction).

Single saves arrive through Django signals; bulk paths (imports) call ``items_changed`` and
``users_changed`` themselves, since ``bulk_create`` and raw SQL send no signals.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from llmrec_django import queues
from llmrec_django.conf import llmrec_settings
from llmrec_django.database import outbox
from llmrec_django.models import Interaction, Item, Relation

# Ids per task message: keeps messages small and lets several workers share a large import.
IDS_PER_TASK = 1000


def _enqueue_in_chunks(task_name: str, tenant_id: int, ids: Iterable[int], countdown: float = 0.0) -> None:
    # Through the outbox: the work is stored with the change that calls for it, so a broker that
    # is down delays it (drain_outbox) instead of losing it or failing the caller's request.
    ids = sorted(set(ids))
    chunks = [(tenant_id, ids[start : start + IDS_PER_TASK]) for start in range(0, len(ids), IDS_PER_TASK)]
    outbox.enqueue(tenant_id, task_name, chunks, countdown=countdown)


def items_changed(tenant_id: int, item_ids: Iterable[int]) -> None:
    """Re-embed these items (those whose text really changed) once the transaction commits."""
    _enqueue_in_chunks(queues.EMBED_CHANGED_ITEMS, tenant_id, item_ids)


def users_changed(tenant_id: int, user_ids: Iterable[int]) -> None:
    """Recompute these users' interest vectors ``REFRESH_DELAY_SECONDS`` after the transaction
    commits (the refresh then also does what was asked for meanwhile: ``tasks.refresh_user_vectors``)."""
    _enqueue_in_chunks(queues.REFRESH_USER_VECTORS, tenant_id, user_ids, float(llmrec_settings.REFRESH_DELAY_SECONDS))


@receiver(post_save, sender=Item)
def _item_saved(sender, instance: Item, raw: bool = False, **kwargs) -> None:
    if not raw:
        items_changed(instance.tenant_id, [instance.pk])


@receiver([post_save, post_delete], sender=Relation)
def _relation_changed(sender, instance: Relation, raw: bool = False, **kwargs) -> None:
    # An item's text lists its KG neighbours, so a changed edge changes the head item's text.
    if not raw and instance.head_item_id:
        items_changed(instance.tenant_id, [instance.head_item_id])


@receiver(post_save, sender=Interaction)
def _interaction_saved(sender, instance: Interaction, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        users_changed(instance.tenant_id, [instance.user_id])
