"""A simulated shopper for conversational evaluation: they want one item and say what it is like.

Usage::

    goal = goal_for(target_attributes, category="films", schema=schema, entities=["Odile Marchetti"])
    user = SimulatedUser(goal, seed=3)
    message = user.opening()                       # "a comedy film"
    reaction = user.react(shown)                   # shown: [(item id, category, attributes), ...]
    reaction.accepted, reaction.message, reaction.reason

In the spirit of the user simulators of conversational-recommendation studies (a target item, its
attributes and knowledge-graph neighbours as what the user knows they want): the simulated user
opens with the target's category and its broadest attribute, then reacts to each list: they
accept when the target is among the items shown; otherwise they reject with a reason, naming a
fact of the target that the shown items mostly lack (a genre, a year range, a price ceiling, a
flag such as "waterproof", or a knowledge-graph neighbour such as a director or brand), one fact
per turn, broad before narrow, as people narrow a request down. Phrasing varies with the seed; the words are the catalogue's
own (its values, attribute names and category names), so the service has to understand them.
Django-free: the caller reads the catalogue and runs the service.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmrec_django.core.attribute_schema import Attribute, CatalogueSchema, readable

Shown = tuple[Any, str, Mapping[str, Any]]  # (item id, category, attributes)


@dataclass(frozen=True)
class Fact:
    """One thing the simulated user knows about what they want."""

    kind: str  # "category", "value", "after", "under", "flag" or "related"
    attribute: str
    value: Any
    rarity: float = 0.0  # the share of items that do not share it: higher says more

    def holds(self, category: str, attributes: Mapping[str, Any]) -> bool:
        value = attributes.get(self.attribute)
        if self.kind == "category":
            return category == self.value
        if self.kind == "value":
            values = value if isinstance(value, list) else [value]
            return any(str(v).lower() == str(self.value).lower() for v in values)
        if self.kind == "after":
            return isinstance(value, int | float) and value >= self.value
        if self.kind == "under":
            return isinstance(value, int | float) and value <= self.value
        if self.kind == "flag":
            return value is True
        return False  # "related": a knowledge-graph neighbour the list cannot show by attributes

    def phrase(self, rng: random.Random) -> str:
        name = readable(self.attribute)
        if self.kind == "category":
            return str(self.value)
        if self.kind == "value":
            value = str(self.value)
            if len(value) <= 3 or any(c.isdigit() for c in value):  # "18" alone says nothing: "age rating 18"
                value = f"{name} {value}"
            return rng.choice(["{v}", "something {v}", "more {v}"]).format(v=value)
        if self.kind == "after":
            return rng.choice(["from {y} or later", "released after {p}", "{n} from {y} on"]).format(
                y=int(self.value), p=int(self.value) - 1, n=name
            )
        if self.kind == "under":
            return rng.choice(["under ${p}", "under {p} dollars", "at most ${p}"]).format(p=int(self.value))
        if self.kind == "flag":
            return name
        return rng.choice(["something with {v}", "like {v}"]).format(v=self.value)


@dataclass
class Goal:
    target: Any  # the wanted item's id
    facts: list[Fact]  # the category first, then the most distinctive


def goal_for(
    target: Any,
    category: str,
    attributes: Mapping[str, Any],
    schema: CatalogueSchema,
    *,
    entities: Sequence[str] = (),
    max_facts: int = 5,
) -> Goal:
    """What a user who wants the item ``target`` knows about it: its category, its enum values
    (commoner first), a year floor and a price ceiling near its own, its true flags, then a
    knowledge-graph neighbour's name."""
    facts: list[Fact] = []
    for name, value in attributes.items():
        attribute = schema.attributes.get(name)
        if attribute is None or attribute.open:
            continue
        fact = _fact(attribute, value)
        if fact is not None:
            facts.append(fact)
    # Broad first, as people ask: a common genre before a rare colour; a name they remember last.
    facts.sort(key=lambda f: f.rarity)
    facts = facts[: max_facts - 1] + [Fact("related", "", name, 1.0) for name in entities[:1]]
    head = [Fact("category", "category", category, 1.0)] if category else []
    return Goal(target=target, facts=head + facts)


def _fact(attribute: Attribute, value: Any) -> Fact | None:
    if attribute.kind == "boolean":
        return Fact("flag", attribute.name, True, 0.5) if value is True else None
    if attribute.kind == "enum" and isinstance(value, str) and value:
        common = list(attribute.values)
        rank = common.index(value) if value in common else len(common)
        return Fact("value", attribute.name, value, 1 - 1 / (rank + 2))
    if attribute.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        if attribute.is_year():
            return Fact("after", attribute.name, int(value) - 2, 0.4)
        if attribute.name.lower() in ("price", "cost") or "price" in attribute.name.lower():
            return Fact("under", attribute.name, math.ceil(value * 1.15), 0.45)
    return None


@dataclass
class Reaction:
    accepted: bool
    message: str = ""
    reason: str = ""


@dataclass
class SimulatedUser:
    goal: Goal
    seed: int = 0
    said: list[Fact] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def opening(self) -> str:
        """The first request: the category and the broadest fact."""
        first = self.goal.facts[:2]
        self.said.extend(first)
        if len(first) == 2 and first[0].kind == "category":
            return f"{first[1].phrase(self._rng)} {first[0].phrase(self._rng)}".strip()
        return " ".join(f.phrase(self._rng) for f in first)

    def react(self, shown: Sequence[Shown]) -> Reaction:
        """Accept when the target is shown; else ask for the first unsaid fact the list lacks."""
        if any(item == self.goal.target for item, _, _ in shown):
            return Reaction(True, reason="the item they wanted was shown")
        unsaid = [f for f in self.goal.facts if f not in self.said]
        lacking = [f for f in unsaid if sum(f.holds(c, a) for _, c, a in shown) * 2 < max(len(shown), 1)]
        fact = (lacking or unsaid or [None])[0]
        if fact is None:
            return Reaction(False, "show me something else", "everything they know was said")
        self.said.append(fact)
        return Reaction(False, fact.phrase(self._rng), f"the list lacks {fact.kind} {fact.attribute or fact.value}")
