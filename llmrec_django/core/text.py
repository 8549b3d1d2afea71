"""What the encoder sees: the text of an item, built the same way every time.

``build_item_text`` turns an item's fields and its knowledge-graph neighbours into one string::

    Trail Blazer 2. Category: running shoes. Light shoe with deep lugs for muddy trails.
    brand: Kestrel; color: red; price: 89. genre: -. Related: brand: Kestrel; good for: trail running.

The recipe, in order:
1. the title, then "Category: <category>." when there is one;
2. the description, whitespace collapsed;
3. the attributes as "key: value" pairs sorted by key, lists joined with ", ", nested objects as
   compact JSON, empty values left out ("brand: Apple; color: red.");
4. the KG neighbours as "<relation>: <names>" sorted by relation then name, relation names made
   readable (has_brand -> brand, directed_by -> directed by).

The same inputs give byte-identical text (so its hash decides whether to re-embed), and the
admin shows this text so a site owner sees exactly what the model saw.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

_SPACES = re.compile(r"\s+")


def _clean(text: Any) -> str:
    return _SPACES.sub(" ", str(text)).strip()


def _sentence(text: str) -> str:
    text = _clean(text)
    if text and text[-1] not in ".!?。！？":
        text += "."
    return text


def readable_relation(relation: str) -> str:
    """has_brand -> brand, directed_by -> directed by, in_category -> category."""
    name = relation
    for prefix in ("has_", "in_", "is_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.replace("_", " ")


def _attribute_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_attribute_value(v) for v in value if v not in (None, ""))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _clean(value)


def format_attributes(attributes: Mapping[str, Any] | None) -> str:
    pairs = []
    for key in sorted(attributes or {}):
        value = _attribute_value(attributes[key])
        if value:
            pairs.append(f"{_clean(key).replace('_', ' ')}: {value}")
    return "; ".join(pairs)


def format_neighbours(neighbours: Iterable[tuple[str, str]]) -> str:
    by_relation: dict[str, set[str]] = defaultdict(set)
    for relation, name in neighbours:
        if name:
            by_relation[readable_relation(relation)].add(_clean(name))
    return "; ".join(f"{relation}: {', '.join(sorted(names))}" for relation, names in sorted(by_relation.items()))


def build_item_text(
    title: str,
    description: str = "",
    category: str = "",
    attributes: Mapping[str, Any] | None = None,
    neighbours: Iterable[tuple[str, str]] = (),
) -> str:
    """The text the encoder embeds for an item (see the module docstring for the recipe)."""
    parts = [_sentence(title)]
    if category:
        parts.append(_sentence(f"Category: {category}"))
    if description:
        parts.append(_sentence(description))
    attrs = format_attributes(attributes)
    if attrs:
        parts.append(_sentence(attrs))
    related = format_neighbours(neighbours)
    if related:
        parts.append(_sentence(f"Related: {related}"))
    return " ".join(p for p in parts if p)


def build_user_text(profile: str = "", recent_queries: Iterable[str] = ()) -> str:
    """The text embedded for a user's stated interests: the profile, then recent searches."""
    parts = [_sentence(profile)] if profile and profile.strip() else []
    queries = [_clean(q) for q in recent_queries if q and q.strip()]
    if queries:
        parts.append(_sentence("Recently searched: " + "; ".join(queries)))
    return " ".join(parts)


def user_history_text(profile: str, recent_queries: Iterable[str], recent_titles: Iterable[str]) -> str:
    """A user as one text: the profile, recent searches, then the titles of recently liked items
    (oldest first, newest last). The two-tower encoder's user side and the re-ranker's left side."""
    text = build_user_text(profile, recent_queries)
    titles = [_clean(t) for t in recent_titles if t and t.strip()]
    if titles:
        text = (text + " " if text else "") + "Recently liked: " + "; ".join(titles) + "."
    return text


def user_item_texts_text(profile: str, recent_queries: Iterable[str], recent_item_texts: Iterable[str]) -> str:
    """Like ``user_history_text`` but with the recent items' full texts, newest first (so
    truncation drops the oldest): the user then reads like the item texts the catalogue is
    embedded from."""
    return " ".join([build_user_text(profile, recent_queries), *[t for t in recent_item_texts if t]]).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
