"""Business rules for one request: which apply (active, in their time window, context matching)
and what they do to a candidate list (``core.ranking.apply_rules``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from llmrec_django.database.serving_data import ItemRow
from llmrec_django.models import BusinessRule, time_of_day
from llmrec_django.recommend.state import serving_state


def request_context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's context with ``time_of_day`` derived from the local time when absent."""
    context = dict(context or {})
    if not context.get("time_of_day"):
        context["time_of_day"] = time_of_day(timezone.localtime().hour)
    return context


def active_rules(tenant_id: int, context: Mapping[str, Any]) -> list[BusinessRule]:
    """The tenant's rules that apply now in ``context`` (from the serving snapshot: no query)."""
    now = timezone.now()
    return [
        rule
        for rule in serving_state(tenant_id).rules
        if (rule.starts_at is None or rule.starts_at <= now)
        and (rule.ends_at is None or now < rule.ends_at)
        and rule.matches_context(context)
    ]


@dataclass
class RuleEffects:
    boost: dict[int, float] = field(default_factory=dict)
    bury: set[int] = field(default_factory=set)
    block: set[int] = field(default_factory=set)
    pin: dict[int, int] = field(default_factory=dict)
    applied: dict[int, list[str]] = field(default_factory=dict)  # item -> names of rules that touched it

    def note(self, item_id: int, rule: BusinessRule) -> None:
        self.applied.setdefault(item_id, []).append(str(rule))


def rule_effects(rules: list[BusinessRule], items: Mapping[int, ItemRow], scores: Mapping[int, float]) -> RuleEffects:
    """What each rule does to the candidates ``items``.

    A pin aimed at one item forces that item in (the caller loads it); a pin aimed at a category
    or attribute pins the best-scored candidate that matches.
    """
    effects = RuleEffects()
    for rule in rules:
        if rule.kind == BusinessRule.Kind.PIN and rule.item_id and not (rule.category or rule.attribute_key):
            effects.pin.setdefault(rule.item_id, int(rule.position))
            effects.note(rule.item_id, rule)
            continue
        matching = [i for i, row in items.items() if rule.matches_item(i, row.category, row.attributes)]
        if rule.kind == BusinessRule.Kind.PIN:
            free = [i for i in matching if i not in effects.pin and i not in effects.block]
            if free:
                best = max(free, key=lambda i: (scores.get(i, 0.0), -i))
                effects.pin[best] = int(rule.position)
                effects.note(best, rule)
            continue
        for item_id in matching:
            if rule.kind == BusinessRule.Kind.BOOST:
                effects.boost[item_id] = effects.boost.get(item_id, 1.0) * float(rule.factor)
            elif rule.kind == BusinessRule.Kind.BURY:
                effects.bury.add(item_id)
            elif rule.kind == BusinessRule.Kind.BLOCK:
                effects.block.add(item_id)
            effects.note(item_id, rule)
    return effects


def pinned_item_ids(rules: list[BusinessRule]) -> set[int]:
    return {r.item_id for r in rules if r.kind == BusinessRule.Kind.PIN and r.item_id}
