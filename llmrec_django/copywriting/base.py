"""What a copy generator is given and what it returns.

A generator gets a ``CopyRequest``: the user's interests (profile text, may be empty) and the
recommended items as ``ItemFacts`` (title, category, a few attributes, a description excerpt and
the recommend service's explanation). It returns one short paragraph of plain text. Everything
in a request may come from the catalogue or the user, so generators must treat it as data; the
prompt builder (``prompt.py``) and the validator (``validate.py``) enforce that for LLMs.

Generators are plain classes configured by keyword options (``LLMREC["COPY"]["OPTIONS"]``); a
typo in an option raises ``TypeError``, a missing model ``FileNotFoundError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


class CopyGenerationError(RuntimeError):
    """A generator could not produce text (model error, HTTP error, timeout)."""


ATTRIBUTES_PER_ITEM = 4
MAX_ATTRIBUTE_CHARS = 60
DESCRIPTION_CHARS = 200


@dataclass(frozen=True)
class ItemFacts:
    """The facts about one recommended item that copy may use."""

    external_id: str
    title: str
    category: str = ""
    attributes: tuple[tuple[str, str], ...] = ()  # a few (key, value) pairs, as text
    description: str = ""  # an excerpt (for the checker: it is not given to the model)
    explanation: str = ""  # why it was recommended, from the recommend service

    @classmethod
    def from_row(cls, row: Mapping[str, Any], explanation: str) -> ItemFacts:
        """An item's facts from its row (``external_id``, ``title``, ``category``, ``attributes``,
        ``description``): whitespace collapsed, the first ``ATTRIBUTES_PER_ITEM`` short scalar
        attributes, a description excerpt."""
        description, category = row.get("description") or "", row.get("category") or ""
        return cls(
            external_id=str(row["external_id"]),
            title=" ".join(str(row["title"]).split()),
            category=shorten(category, 80) if category else "",
            attributes=scalar_attributes(row.get("attributes")),
            description=shorten(description, DESCRIPTION_CHARS) if description else "",
            explanation=shorten(explanation or "", 200),
        )


def shorten(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def scalar_attributes(attributes: Any) -> tuple[tuple[str, str], ...]:
    """A few scalar attributes, as short text (lists, dicts, booleans and long values are left out)."""
    pairs = []
    for key, value in (attributes or {}).items() if isinstance(attributes, dict) else ():
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            continue
        text = shorten(value, MAX_ATTRIBUTE_CHARS + 1)
        if len(text) <= MAX_ATTRIBUTE_CHARS:
            pairs.append((shorten(key, 40).replace("_", " "), text))
        if len(pairs) == ATTRIBUTES_PER_ITEM:
            break
    return tuple(pairs)


@dataclass(frozen=True)
class CopyRequest:
    """Everything a generator may use for one user's list."""

    items: tuple[ItemFacts, ...]
    profile: str = ""  # the user's interests in their own words (empty when not shared)
    language: str = "en"
    max_chars: int = 600  # the most characters the copy may have
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def titles(self) -> list[str]:
        return [item.title for item in self.items]

    def fingerprint(self) -> str:
        """A hash of every fact: same facts, same copy (the cache key's main part)."""
        payload = json.dumps(
            {
                "items": [asdict(i) for i in self.items],
                "profile": self.profile,
                "language": self.language,
                "max_chars": self.max_chars,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CopyGenerator:
    """Base class: ``generate(request, timeout=...)`` returns the text, or raises.

    ``name`` identifies the generator and its model in cache keys and in ``Copy.generator_name``;
    ``timeout`` is the time left in the caller's budget (seconds): a generator should stop by
    then (the service stops waiting anyway and falls back to the template).
    """

    name: ClassVar[str] = "base"
    # True for generators whose output needs the safety validator (anything model-written).
    needs_validation: ClassVar[bool] = True

    @property
    def generator_name(self) -> str:
        return self.name

    def generate(self, request: CopyRequest, *, timeout: float | None = None) -> str:
        raise NotImplementedError

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> list[str]:
        """Problems with ``options`` found without loading anything (for the system check)."""
        return []


def reject_unknown_options(cls_name: str, unknown: dict[str, Any], accepted: str) -> None:
    if unknown:
        raise TypeError(
            f"Unknown {cls_name} option(s) {', '.join(map(repr, sorted(unknown)))}; "
            f"LLMREC['COPY']['OPTIONS'] accepts: {accepted}."
        )
