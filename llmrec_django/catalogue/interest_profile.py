"""The interest profile a user can see and edit: a short text in plain words that also feeds
their interest vector, and their switch for personalisation.

Usage::

    from llmrec_django import interest_profile

    shown = interest_profile.describe(profile)   # text, who wrote it, what we would write now, ...
    interest_profile.update(profile, text="Slow thrillers, trail running")   # the user's words
    interest_profile.update(profile, reset=True)                 # back to what we learned
    interest_profile.update(profile, personalisation_enabled=False)
    interest_profile.refresh(profile)            # rewrite a generated text now, refresh the vector

Who wrote the text (``UserProfile.profile_text_source``):

- ``generated``: written by ``core.interest_summary`` from the user's events (recency-decayed
  weights), the categories and knowledge-graph entities of what they liked or disliked, and
  their recent searches. It is rewritten wherever the user's vector is computed
  (``embedding.compute_user_vectors``, for a whole batch with two queries and one UPDATE), so
  the text the user reads is the text the vector was made from.
- ``user``: the user's own words (the site's page or the API). Never overwritten by regeneration
  or by an import; ``update(reset=True)`` goes back to the generated text.
- ``site``: any text written outside this module (``llmrec_import --users``, the admin, the site's
  own code; the model's default); kept until the user edits or resets it. An empty one is
  treated as generated: there is nothing to keep.

Personalisation off: the recommend service answers with the popularity list, search neither
blends the user's vector nor remembers queries, copy leaves the profile out, and the user has no
interest vector (deleted at once, and not computed again while off) and no regenerated text.
Their events are still stored: the site needs them (orders, popularity, other users'
collaborative signals), and turning personalisation back on rebuilds the vector from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from llmrec_django.catalogue import signals
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.interest import event_weights
from llmrec_django.core.interest_summary import EntityEdge, ItemFacts, summarise_interests
from llmrec_django.core.text import build_user_text, user_history_text
from llmrec_django.database import serving_data
from llmrec_django.models import Interaction, Item, RecommendationCopy, UserProfile, UserVector

Source = UserProfile.TextSource


def profile_settings() -> dict[str, Any]:
    return llmrec_settings.INTEREST_PROFILE


def text_source(source: str, text: str) -> str:
    """Who wrote a stored text, as the user is told: an empty text of the site's is the
    generator's to write (profiles created by events or accounts start that way)."""
    return Source.GENERATED if source == Source.SITE and not (text or "").strip() else source


def written_text(text: str, source: str) -> str:
    """The profile text if a user or the site wrote it; "" for a generated one. User texts for
    training and for a fine-tuned model's users leave generated texts out: one is written from
    every event, the held-out ones included, and would leak them into training."""
    return "" if text_source(source, text) == Source.GENERATED else text


# ---------------------------------------------------------------------------------------------
# Writing the text from behaviour


def _item_facts(tenant_id: int, item_ids: Sequence[int]) -> dict[int, ItemFacts]:
    """Title, category and entity edges of the tenant's items among ``item_ids``, in one query."""
    titles: dict[int, tuple[str, str]] = {}
    edges: dict[int, list[EntityEdge]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.id, i.title, i.category, r.relation, e.entity_type, e.name, r.weight "
            "FROM llmrec_django_item i "
            "LEFT JOIN llmrec_django_relation r ON r.head_item_id = i.id AND r.tail_entity_id IS NOT NULL "
            "LEFT JOIN llmrec_django_entity e ON e.id = r.tail_entity_id "
            "WHERE i.tenant_id = %s AND i.id = ANY(%s)",
            [tenant_id, sorted({int(i) for i in item_ids})],
        )
        for item_id, title, category, relation, entity_type, name, weight in cursor.fetchall():
            titles[item_id] = (title, category)
            if name is not None:
                edges[item_id].append(EntityEdge(relation, entity_type, name, float(weight)))
    return {
        item_id: ItemFacts(title, category, tuple(sorted(edges[item_id], key=lambda e: (e.relation, e.name))))
        for item_id, (title, category) in titles.items()
    }


def _item_weights(events: Sequence[tuple], now: datetime) -> dict[int, float]:
    """Summed, signed, recency-decayed weight per item of ``(item, type, value, time, ...)`` rows,
    the way ``database.serving_data.load_history`` and the interest vector weigh them."""
    if not events:
        return {}
    weights = event_weights(
        [e[1] for e in events],
        [e[2] for e in events],
        np.array([(now - e[3]).total_seconds() for e in events]),
        llmrec_settings.EVENT_WEIGHTS,
        float(llmrec_settings.RECENCY_HALF_LIFE_DAYS),
    )
    totals: dict[int, float] = defaultdict(float)
    for event, weight in zip(events, weights.tolist(), strict=True):
        totals[event[0]] += weight
    return dict(totals)


def generated_texts(
    tenant_id: int, events_by_user: Mapping[int, Sequence[tuple]], queries_by_user: Mapping[int, Sequence[str]]
) -> dict[int, str]:
    """What the system writes for each user of ``queries_by_user`` (their keys), from their
    ``(item, type, value, time, ...)`` events: one query for the whole batch. Empty texts when
    ``INTEREST_PROFILE["GENERATE"]`` is off."""
    if not profile_settings()["GENERATE"]:
        return dict.fromkeys(queries_by_user, "")
    now = timezone.now()
    weights = {user: _item_weights(events_by_user.get(user, ()), now) for user in queries_by_user}
    facts = _item_facts(tenant_id, [item for per_user in weights.values() for item in per_user])
    max_chars = int(profile_settings()["MAX_CHARS"])
    return {
        user: summarise_interests(weights[user], facts, queries or (), max_chars=max_chars)
        for user, queries in queries_by_user.items()
    }


def generated_text(profile: UserProfile) -> str:
    """What the system would write for ``profile`` now (whoever wrote the stored text)."""
    history = serving_data.load_history(profile.pk, ())
    return generated_texts(profile.tenant_id, {profile.pk: history.events}, {profile.pk: profile.recent_queries})[
        profile.pk
    ]


def _store_generated(texts: Mapping[int, str]) -> None:
    """Write generated texts, in one statement, to the profiles whose text is still the
    generator's (``text_source``; one edited meanwhile is left alone) and differs."""
    if not texts:
        return
    ids = list(texts)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE llmrec_django_userprofile p "
            "SET profile_text = u.text, profile_text_source = %s, profile_generated_at = now() "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(id, text) "
            "WHERE p.id = u.id AND p.profile_text IS DISTINCT FROM u.text "
            "AND (p.profile_text_source = %s OR (p.profile_text_source = %s AND btrim(p.profile_text) = ''))",
            [Source.GENERATED, ids, [texts[i] for i in ids], Source.GENERATED, Source.SITE],
        )


@dataclass
class VectorTexts:
    """For a batch of users: the text to embed per user (users without one are absent) and the
    users whose personalisation is off (they get no vector)."""

    texts: dict[int, str]
    paused: list[int]


def texts_for_vectors(
    tenant_id: int, user_ids: Sequence[int], events_by_user: Mapping[int, Sequence[tuple]]
) -> VectorTexts:
    """Rewrite the generated texts of ``user_ids`` from ``events_by_user`` and return the text
    each user's vector is made from: the profile text, with the recent searches appended unless
    the generated text already names them. Called by ``embedding`` for each batch of users."""
    rows = list(
        UserProfile.objects.filter(tenant_id=tenant_id, pk__in=list(user_ids)).values_list(
            "pk", "profile_text", "profile_text_source", "recent_queries", "personalisation_enabled"
        )
    )
    paused = [pk for pk, *_rest, enabled in rows if not enabled]
    active = [
        (pk, text, text_source(source, text), queries or []) for pk, text, source, queries, enabled in rows if enabled
    ]
    generated = generated_texts(
        tenant_id, events_by_user, {pk: queries for pk, _text, source, queries in active if source == Source.GENERATED}
    )
    _store_generated(generated)
    names_queries = bool(profile_settings()["GENERATE"])  # a generated text lists the searches itself
    texts = {}
    for pk, text, source, queries in active:
        if source == Source.GENERATED:
            text = generated[pk] if names_queries else build_user_text("", queries)
        else:
            text = build_user_text(text, queries)
        if text:
            texts[pk] = text
    return VectorTexts(texts=texts, paused=paused)


# ---------------------------------------------------------------------------------------------
# What the user sees and changes


@dataclass(frozen=True)
class InterestProfile:
    """What the user's "your interests" page and ``me/profile/`` show."""

    external_id: str
    profile_text: str
    profile_text_source: str
    generated_text: str  # what the system would write now
    personalisation_enabled: bool
    profile_generated_at: datetime | None
    updated_at: datetime


def describe(profile: UserProfile) -> InterestProfile:
    return InterestProfile(
        external_id=profile.external_id,
        profile_text=profile.profile_text,
        profile_text_source=text_source(profile.profile_text_source, profile.profile_text),
        generated_text=generated_text(profile),
        personalisation_enabled=profile.personalisation_enabled,
        profile_generated_at=profile.profile_generated_at,
        updated_at=profile.updated_at,
    )


def clean_user_text(text: str) -> str:
    """The user's text, stripped; a ``ValueError`` says why one is refused (too long, NUL)."""
    if not isinstance(text, str):
        raise ValueError("The profile text must be a string.")
    if "\x00" in text:
        raise ValueError("The profile text may not contain NUL characters.")
    text = text.strip()
    limit = int(profile_settings()["MAX_USER_CHARS"])
    if len(text) > limit:
        raise ValueError(f"The profile text may be at most {limit} characters long (it has {len(text)}).")
    return text


def _forget_vectors(profile: UserProfile) -> None:
    UserVector.objects.filter(user=profile).delete()
    RecommendationCopy.forget(profile)  # cached copy was written from the profile and the personalised list


def update(
    profile: UserProfile,
    *,
    text: str | None = None,
    reset: bool = False,
    personalisation_enabled: bool | None = None,
) -> UserProfile:
    """Apply the user's changes: their own ``text`` (kept from now on), ``reset`` to the text
    generated from their behaviour, and switching personalisation. The user's vector is
    refreshed after the commit (``signals.users_changed``); turning personalisation off deletes
    it at once. ``ValueError`` for a refused text, or text and reset together."""
    if text is not None and reset:
        raise ValueError("Either give a profile text or reset to the generated one, not both.")
    if text is not None:
        text = clean_user_text(text)
    with transaction.atomic():
        profile = UserProfile.objects.select_for_update().get(pk=profile.pk)
        fields = {"updated_at"}
        if personalisation_enabled is not None and personalisation_enabled != profile.personalisation_enabled:
            profile.personalisation_enabled = personalisation_enabled
            fields.add("personalisation_enabled")
        if text is not None:
            profile.profile_text, profile.profile_text_source = text, Source.USER
            fields |= {"profile_text", "profile_text_source"}
        elif reset:
            profile.profile_text, profile.profile_text_source = generated_text(profile), Source.GENERATED
            profile.profile_generated_at = timezone.now()
            fields |= {"profile_text", "profile_text_source", "profile_generated_at"}
        profile.save(update_fields=sorted(fields))
        if not profile.personalisation_enabled:
            _forget_vectors(profile)
        signals.users_changed(profile.tenant_id, [profile.pk])
    return profile


def refresh(profile: UserProfile) -> UserProfile:
    """Rewrite a generated text now and queue the user's vector refresh (it follows the text).
    A text written by the user or the site, or personalisation off, leaves the text as it is."""
    if (
        profile.personalisation_enabled
        and text_source(profile.profile_text_source, profile.profile_text) == Source.GENERATED
    ):
        _store_generated({profile.pk: generated_text(profile)})
        profile.refresh_from_db(fields=["profile_text", "profile_text_source", "profile_generated_at"])
    signals.users_changed(profile.tenant_id, [profile.pk])
    return profile


def current_user_text(profile: UserProfile, history_items: int) -> str:
    """The user text for a request now: the profile and their last liked items (the serving side)."""
    weights = llmrec_settings.EVENT_WEIGHTS
    events = (
        Interaction.objects.filter(user_id=profile.pk)
        .order_by("-timestamp", "-pk")
        .values_list("item_id", "event_type", "value")[: int(llmrec_settings.USER_HISTORY_LIMIT)]
    )
    recent: list[int] = []
    for item_id, event_type, value in events:
        if _is_positive(event_type, value, weights) and item_id not in recent:
            recent.append(item_id)
            if len(recent) >= history_items:
                break
    titles = dict(Item.objects.filter(pk__in=recent).values_list("pk", "title"))
    return user_history_text(
        written_text(profile.profile_text, profile.profile_text_source),
        profile.recent_queries or [],
        [titles.get(i, "") for i in reversed(recent)],
    )


def _is_positive(event_type: str, value: float | None, weights: dict[str, float]) -> bool:
    return float(event_weights([event_type], [value], np.zeros(1), weights, 0.0)[0]) > 0
