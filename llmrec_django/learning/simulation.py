"""Simulated conversations: how often, and how fast, a shopper finds what they want.

Usage (``python manage.py llmrec_evaluate --simulate 50 --turns 5``)::

    report = simulate_conversations(tenant, users=50, turns=5, k=10)
    report["policies"]["conversation"]["success_rate"], report["policies"]["search"]["mean_turns"]

For each of ``users`` sampled users (seeded) with at least two positive events, the latest
positive event's item is the target: it is taken out of their history and their interest vector
is recomputed without it, then a ``SimulatedUser`` (``core.user_simulation``: the target's
category, attributes and knowledge-graph neighbours) asks for it over at most ``turns`` turns,
against each policy on the same users and targets:

- ``conversation``: the live conversational service (``start_session``, then ``send_message``
  with each follow-up: intent carried from turn to turn, the session's vector);
- ``search``: the stateless search of each message alone (what a search box does);
- ``for_you``: the user's list, with what was shown excluded on the next turn (no listening);
- ``popular``: the popular list, the same way.

A session succeeds when the target is among the ``k`` items of a turn. Reported per policy:
success rate within ``turns``, mean turns to success, and a few transcripts. Everything runs in one
transaction that is rolled back, with served-list logging off, so the tenant is left as it was.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings

from llmrec_django.catalogue import embedding
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.user_simulation import SimulatedUser, goal_for
from llmrec_django.database import caches, serving_data
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import Interaction, Item, Relation, Tenant, UserProfile
from llmrec_django.recommend import conversations
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.recommend.lists import popular_items
from llmrec_django.recommend.text_search import search

POLICIES = ("conversation", "search", "for_you", "popular")
TRANSCRIPTS = 3


def simulate_conversations(
    tenant: Tenant | str | None,
    *,
    users: int = 50,
    turns: int = 5,
    k: int = 10,
    seed: int = 0,
    policies: Sequence[str] = POLICIES,
) -> dict[str, Any]:
    tenant = resolve_tenant(tenant)
    unknown = set(policies) - set(POLICIES)
    if unknown or users < 1 or turns < 1 or k < 1:
        raise ValueError(
            f"Unknown policies {sorted(unknown)}." if unknown else "users, turns and k must be at least 1."
        )
    online = {**llmrec_settings.ONLINE, "LOG_WRITES": "off"}
    with override_settings(LLMREC={**getattr(settings, "LLMREC", {}), "ONLINE": online}), transaction.atomic():
        targets = _targets(tenant, users, seed)
        schema = serving_data.catalogue_schema(tenant.pk)
        report = {
            "users": len(targets),
            "turns": turns,
            "k": k,
            "policies": {
                policy: _run_policy(policy, tenant, targets, schema, turns=turns, k=k, seed=seed) for policy in policies
            },
        }
        transaction.set_rollback(True)
    return report


def _targets(tenant: Tenant, users: int, seed: int) -> list[tuple[UserProfile, Item, list[str]]]:
    """(user, target item, the target's knowledge-graph neighbours) for a seeded sample of users
    with two positive events or more; the target leaves the user's history and vector."""
    positive = [t for t, weight in llmrec_settings.EVENT_WEIGHTS.items() if weight >= 1]
    candidates = sorted(user_id for user_id, count in _positive_counts(tenant, positive).items() if count >= 2)
    random.Random(seed).shuffle(candidates)
    chosen = []
    for profile in UserProfile.objects.filter(tenant=tenant, pk__in=candidates[:users]):
        latest = (
            Interaction.objects.filter(tenant=tenant, user=profile, event_type__in=positive)
            .order_by("-timestamp", "-pk")
            .select_related("item")
            .first()
        )
        if latest is None:
            continue
        target = latest.item
        Interaction.objects.filter(tenant=tenant, user=profile, item=target).delete()
        neighbours = list(
            Relation.objects.filter(tenant=tenant, head_item=target, tail_entity__isnull=False)
            .order_by("-weight", "pk")
            .values_list("tail_entity__name", flat=True)[:2]
        )
        chosen.append((profile, target, neighbours))
    embedding.refresh_users(tenant.pk, [p.pk for p, _, _ in chosen])
    caches.clear_all()  # nothing read before the change may answer
    return chosen


def _positive_counts(tenant: Tenant, positive: Sequence[str]) -> dict[int, int]:
    rows = (
        Interaction.objects.filter(tenant=tenant, event_type__in=list(positive))
        .values("user_id")
        .annotate(items=Count("item_id", distinct=True))
    )
    return {row["user_id"]: row["items"] for row in rows}


def _run_policy(policy, tenant, targets, schema, *, turns: int, k: int, seed: int) -> dict[str, Any]:
    successes, turns_taken, transcripts = 0, [], []
    for n, (profile, target, neighbours) in enumerate(targets):
        goal = goal_for(target.pk, target.category, target.attributes or {}, schema, entities=neighbours)
        user = SimulatedUser(goal, seed=seed * 100_003 + n)
        answer = _policy(policy, tenant, profile, k)
        message, transcript = user.opening(), []
        for turn in range(1, turns + 1):
            shown = answer(message)
            transcript.append({"user": message, "shown": [i for i, _, _ in shown][:k]})
            reaction = user.react(shown)
            if reaction.accepted:
                successes += 1
                turns_taken.append(turn)
                break
            message = reaction.message
        if len(transcripts) < TRANSCRIPTS:
            transcripts.append(
                {
                    "target": target.external_id,
                    "found": reaction.accepted,
                    "turns": [{"user": t["user"], "shown": _external_ids(tenant, t["shown"])} for t in transcript],
                }
            )
    return {
        "sessions": len(targets),
        "successes": successes,
        "success_rate": round(successes / len(targets), 3) if targets else 0.0,
        "mean_turns": round(sum(turns_taken) / len(turns_taken), 2) if turns_taken else None,
        "transcripts": transcripts,
    }


def _external_ids(tenant: Tenant, ids: Sequence[int]) -> list[str]:
    found = dict(Item.objects.filter(tenant=tenant, pk__in=list(ids)).values_list("pk", "external_id"))
    return [found.get(i, str(i)) for i in ids]


def _policy(policy: str, tenant: Tenant, profile: UserProfile, k: int) -> Callable[[str], list]:
    """A function from the user's message to the (item id, category, attributes) of the items shown."""
    shown_before: set[int] = set()
    session: list[Any] = []

    def rows(result) -> list:
        items = serving_data.load_items(tenant.pk, result.item_ids)
        shown_before.update(result.item_ids)
        return [(i, items[i].category, items[i].attributes or {}) for i in result.item_ids if i in items]

    def conversation(message: str) -> list:
        if not session:
            turn = conversations.start_session(profile, message=message, k=k)
            session.append(turn.session)
        else:
            turn = conversations.send_message(session[0], message, k=k)
            session[0] = turn.session
        return rows(turn.recommendations)

    def by_search(message: str) -> list:
        return rows(search(message, tenant=tenant, user=profile, k=k, remember=False))

    def for_you(message: str) -> list:
        return rows(recommend_for_user(profile, tenant=tenant, k=k, exclude=set(shown_before)))

    def popular(message: str) -> list:
        result = popular_items(tenant=tenant, k=min(k + len(shown_before), 100), reason="simulation")
        result.items = [r for r in result.items if r.item_id not in shown_before][:k]
        return rows(result)

    return {"conversation": conversation, "search": by_search, "for_you": for_you, "popular": popular}[policy]
