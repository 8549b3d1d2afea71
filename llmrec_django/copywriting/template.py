"""The default copy generator: deterministic sentences built from the item facts alone.

Each item gets one sentence, its title in quotes, its category and up to two attributes in
brackets, then the explanation from the recommend service::

    Picked for you: "Trail Runner 2" (Sports; brand: Nike, price: 89) - because you bought
    "Yoga Mat" (same brand: Nike). "Lantern Ship" (Films) - similar to "Star Road" you liked.

Same facts, same text; it says nothing the facts do not, so it needs no validation and is what
every other generator falls back to.
"""

from __future__ import annotations

from typing import Any

from llmrec_django.copywriting.base import CopyGenerator, CopyRequest, ItemFacts, reject_unknown_options

LEAD = "Picked for you:"


class TemplateCopyGenerator(CopyGenerator):
    """One grounded sentence per item. ``attributes_per_item``: facts shown in brackets."""

    name = "template"
    needs_validation = False

    def __init__(self, attributes_per_item: int = 2, **unknown: Any):
        reject_unknown_options("TemplateCopyGenerator", unknown, "attributes_per_item")
        if not isinstance(attributes_per_item, int) or attributes_per_item < 0:
            raise TypeError(f"attributes_per_item must be a non-negative integer, not {attributes_per_item!r}.")
        self.attributes_per_item = attributes_per_item

    def generate(self, request: CopyRequest, *, timeout: float | None = None) -> str:
        if not request.items:
            return ""
        return " ".join([LEAD, *(self.sentence(item) for item in request.items)])

    def sentence(self, item: ItemFacts) -> str:
        details = []
        if item.category:
            details.append(item.category)
        facts = ", ".join(f"{key}: {value}" for key, value in item.attributes[: self.attributes_per_item])
        if facts:
            details.append(facts)
        text = f'"{item.title}"' + (f" ({'; '.join(details)})" if details else "")
        if item.explanation:
            reason = item.explanation.strip().rstrip(".")
            text += f" - {reason[:1].lower()}{reason[1:]}" if _lower_first(reason) else f" - {reason}"
        return text + "."


def _lower_first(reason: str) -> bool:
    """'Because you liked ...' reads 'because you liked' mid-sentence; a quoted title keeps its case."""
    first = reason.split(" ", 1)[0]
    return first[:1].isupper() and first[1:].islower() and not first.startswith('"')
