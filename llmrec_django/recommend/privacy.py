"""A user's data: export it (portability) and erase it (the right to be forgotten).

Usage::

    from llmrec_django.recommend import privacy

    document = privacy.export_user(profile)   # JSON-ready dict: profile, events, conversations, ...
    counts = privacy.erase_user(profile)      # {"events": 12, "conversations": 1, ...}

Erasure removes, in one transaction, everything the app holds about the user: the profile, its
events, interest vectors, conversations and their turns, and knowledge-graph relations that name
the user (and every other row naming the profile: served lists, experiment assignments, copy,
writes set aside, pending outbox work); then it drops the user's row from the tenant's current
collaborative (ALS) model file and deletes the older ones, removes the user's words from the
fine-tuning's pooled-vector cache files (caches written before they held item texts only),
clears the in-process caches built from events and deletes the user's kept lists
(``recommend/list_cache.py``). Items and entities are the catalogue's, not
the user's, and stay. The site's own account (``settings.AUTH_USER_MODEL``) is the site's to
delete. Erasing a profile that no longer exists is the caller's 404.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Q

from llmrec_django.catalogue import collaborative
from llmrec_django.conf import llmrec_settings
from llmrec_django.database import artifacts, outbox, serving_data
from llmrec_django.models import (
    CollaborativeModel,
    ConversationSession,
    ConversationTurn,
    ExperimentAssignment,
    Interaction,
    Item,
    Relation,
    ServedList,
    UserProfile,
    UserVector,
)
from llmrec_django.recommend import list_cache, new_items

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "llmrec-user-export/1"


def _node(relation: Relation, end: str) -> dict[str, Any]:
    item, entity, user = (getattr(relation, f"{end}_{kind}") for kind in ("item", "entity", "user"))
    if item is not None:
        return {"type": "item", "id": item.external_id}
    if user is not None:
        return {"type": "user", "id": user.external_id}
    return {"type": entity.entity_type, "id": entity.name}


def export_user(profile: UserProfile) -> dict[str, Any]:
    """Everything the app stores about ``profile``, as a JSON-ready dict."""
    events = (
        Interaction.objects.filter(user=profile)
        .order_by("timestamp", "pk")
        .values_list("event_id", "item__external_id", "event_type", "value", "timestamp", "device", "location",
                     "context")
    )  # fmt: skip
    relations = Relation.objects.filter(Q(head_user=profile) | Q(tail_user=profile)).select_related(
        "head_item", "head_entity", "head_user", "tail_item", "tail_entity", "tail_user"
    )
    sessions = ConversationSession.objects.filter(user=profile).prefetch_related("turns").order_by("created_at")
    vectors = UserVector.objects.filter(user=profile).order_by("version_id")
    return {
        "format": EXPORT_FORMAT,
        "tenant": profile.tenant.slug,
        "profile": {
            "external_id": profile.external_id,
            "profile_text": profile.profile_text,
            "profile_text_source": profile.profile_text_source,
            "profile_generated_at": profile.profile_generated_at.isoformat() if profile.profile_generated_at else None,
            "preferences": profile.preferences,
            "recent_queries": profile.recent_queries,
            "personalisation_enabled": profile.personalisation_enabled,
            "created_at": profile.created_at.isoformat(),
            "updated_at": profile.updated_at.isoformat(),
        },
        "events": [
            {
                "event_id": event_id,
                "item_id": item,
                "event_type": event_type,
                "value": value,
                "timestamp": stamp.isoformat(),
                "device": device,
                "location": location,
                "context": context,
            }
            for event_id, item, event_type, value, stamp, device, location, context in events
        ],
        "relations": [
            {"head": _node(r, "head"), "relation": r.relation, "tail": _node(r, "tail"), "weight": r.weight}
            for r in relations
        ],
        "conversations": [
            {
                "id": session.pk,
                "created_at": session.created_at.isoformat(),
                "turns": [
                    {
                        "number": turn.number,
                        "kind": turn.kind,
                        "message": turn.message,
                        "liked": turn.liked,
                        "disliked": turn.disliked,
                        "reply": turn.reply,
                        "recommended": turn.recommended,
                        "created_at": turn.created_at.isoformat(),
                    }
                    for turn in session.turns.all()
                ],
            }
            for session in sessions
        ],
        "interest_vectors": [
            {"version": v.version_id, "events_used": v.events_used, "updated_at": v.updated_at.isoformat()}
            for v in vectors
        ],
        "experiments": [
            {"experiment": experiment, "arm": arm, "assigned_at": at.isoformat()}
            for experiment, arm, at in ExperimentAssignment.objects.filter(user=profile)
            .order_by("assigned_at")
            .values_list("experiment__name", "arm__name", "assigned_at")
        ],
        "served_lists": _served_lists(profile),
    }


def _served_lists(profile: UserProfile) -> list[dict[str, Any]]:
    """The lists shown to the user (online measurement), items by external id."""
    lists = list(ServedList.objects.filter(user=profile).order_by("served_at"))
    ids = {i for served in lists for i in served.item_ids}
    external = dict(Item.objects.filter(pk__in=ids).values_list("pk", "external_id"))
    return [
        {
            "id": str(served.pk),
            "surface": served.surface,
            "strategy": served.strategy,
            "served_at": served.served_at.isoformat(),
            "items": [external.get(i) for i in served.item_ids],
            "context": served.context,
        }
        for served in lists
    ]


def erase_user(profile: UserProfile) -> dict[str, int]:
    """Delete everything the app holds about ``profile`` (see the module docstring); returns
    how many rows of each kind were deleted."""
    tenant_id, user_pk = profile.tenant_id, profile.pk
    words = [profile.profile_text, *(q for q in profile.recent_queries or [] if isinstance(q, str))]
    with transaction.atomic():
        counts = {
            "events": Interaction.objects.filter(user=profile).count(),
            "interest_vectors": UserVector.objects.filter(user=profile).count(),
            "conversations": ConversationSession.objects.filter(user=profile).count(),
            "conversation_turns": ConversationTurn.objects.filter(session__user=profile).count(),
            "relations": Relation.objects.filter(Q(head_user=profile) | Q(tail_user=profile)).count(),
            "profiles": 1,
        }
        # Every table that names the user refers to the profile with ON DELETE CASCADE, but for
        # the outbox, whose rows name users in their task arguments (the deletion's own signals
        # may have added some).
        profile.delete()
        counts["pending_work"] = outbox.forget_users(tenant_id, [user_pk])
        transaction.on_commit(lambda: _forget_in_files(tenant_id, [user_pk], words))
    serving_data.clear_caches()
    new_items.clear()
    list_cache.forget(tenant_id, user_pk)
    return counts


def _forget_in_files(tenant_id: int, user_ids: list[int], words: list[str]) -> None:
    collaborative.prune_superseded(tenant_id)
    forget_in_collaborative_model(tenant_id, user_ids)
    forget_in_training_caches(words)


# A user's text shorter than this is not looked for in cached texts (it would match everyone's).
MIN_FORGOTTEN_TEXT = 8


def forget_in_training_caches(words: list[str]) -> int:
    """Drop from the fine-tuning's pooled-vector cache files every cached text that holds one of
    ``words`` (a user's profile text and queries); returns how many texts went. Caches written now
    hold item texts only; older ones held users' texts too."""
    wanted = [w.strip() for w in words if len(w.strip()) >= MIN_FORGOTTEN_TEXT]
    files = sorted((llmrec_settings.training_artifacts / "pooled-cache").glob("*.pt"))
    if not wanted or not files:
        return 0
    from llmrec_django.ml.training.modules import BiEncoder  # torch, only when there is a file to clean

    removed = 0
    for file in files:
        try:
            removed += BiEncoder.forget_cached_texts(file, lambda text: any(w in text for w in wanted))
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            logger.warning(
                "Cannot clean the pooled-vector cache %s of an erased user's texts (%s); deleting it.", file, exc
            )
            file.unlink(missing_ok=True)
    return removed


def forget_in_collaborative_model(tenant_id: int, user_ids: list[int]) -> bool:
    """Rewrite the tenant's current ALS model file without these users' factor rows (their
    taste, learnt from their events). Returns whether the file changed."""
    record = CollaborativeModel.objects.filter(tenant_id=tenant_id).first()
    if record is None:
        return False
    try:
        path = artifacts.local_path(record.path)
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as exc:
        logger.warning("Collaborative model %s (%s) cannot be read to erase users: %s", record.pk, record.path, exc)
        return False
    keep = ~np.isin(arrays["user_ids"], np.asarray(user_ids, dtype=arrays["user_ids"].dtype))
    if keep.all():
        return False
    arrays["user_ids"] = arrays["user_ids"][keep]
    arrays["user_factors"] = arrays["user_factors"][keep]
    rewritten = path.with_name(f"{path.stem.split('-erased')[0]}-erased-{uuid.uuid4().hex[:8]}.npz")
    np.savez(rewritten, **arrays)
    # A new record (rather than a changed path) makes every process reload the model.
    CollaborativeModel.objects.create(
        tenant_id=tenant_id,
        path=artifacts.publish(rewritten),
        n_users=int(keep.sum()),
        n_items=record.n_items,
        n_interactions=record.n_interactions,
        params=record.params,
        fit_seconds=record.fit_seconds,
    )
    record.delete()
    artifacts.delete(record.path)  # here and in the storage; other machines prune their copies
    collaborative.clear_cache()
    return True
