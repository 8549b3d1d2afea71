"""What a catalogue's items can be asked about, learned from the items themselves.

``learn_schema`` reads the items' categories and ``attributes`` and finds, per attribute, its
kind and values, with no list written for any one catalogue:

- **number**: numeric values (price, year, pages, capacity, temperature ...): range and quartiles;
- **enum**: text values that repeat (rating, genre, mood, tier, terrain ...), or lists of them
  (genres): the values, most common first;
- **boolean**: true / false (waterproof ...).

Text that does not repeat (titles, descriptions) is not an attribute one filters on. What the
items cannot tell, a site declares (``declared``: ``LLMREC["INTENT"]`` and the tenant's own
vocabulary, editable in the admin), merged in here:

    {"categories": {"films": ["film", "movie", "电影"]},
     "attributes": {"price": {"names": ["price", "cost", "价格"], "units": ["$", "dollars", "元"]},
                    "rating": {"ordering": ["G", "PG", "PG-13", "R"], "ages": {"G": 0, "PG": 8, "PG-13": 13, "R": 17}},
                    "year": {"names": ["released", "年"], "recent": 3}},
     "values": {"horror": ["scary", "恐怖", "恐怖片"], "comedy": ["funny", "喜剧"]}}

``names`` are words that name the attribute, ``units`` words that follow or precede its numbers,
``ordering`` its values from low to high, ``ages`` the youngest age each value suits, ``recent``
how many of the newest years "recent" means; ``values`` maps a value (of any enum attribute, or
a category) to words and translations that mean it. The module does not import Django.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# An enum has at most this many values; text attributes with more are free text.
MAX_ENUM_VALUES = 200
# Values longer than this are text, not something one asks for by name.
MAX_VALUE_CHARS = 40
# Attributes present on fewer items than this share are ignored (a stray key on one item).
MIN_SHARE = 0.01
# Text attributes with more distinct values than an enum are names (authors, brands) up to this.
MAX_OPEN_VALUES = 50_000


def _looks_like_names(counter: Counter) -> bool:
    """Whether text values are names one could type (short, mostly capitalised or CJK words),
    not sentences or codes."""
    sample = [v for v, _ in counter.most_common(200)]
    capitalised = sum(1 for v in sample if v[:1].isupper() or re.search(r"[\u3000-\u9fff]", v))
    short = sum(1 for v in sample if len(v.split()) <= 5)
    return capitalised >= 0.6 * len(sample) and short >= 0.9 * len(sample)


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str  # "number", "enum" or "boolean"
    count: int  # items that have it
    values: tuple[str, ...] = ()  # enum: most common first
    multi: bool = False  # enum: the items hold lists of values
    # enum: names rather than a short list (authors, directors, brands: many values, few repeats),
    # matched only where a value appears whole in a request
    open: bool = False
    minimum: float | None = None
    maximum: float | None = None
    quartiles: tuple[float, float, float] | None = None
    # number: per category, (min, q1, median, q3, max), so that "cheap" means cheap for tents
    by_category: Mapping[str, tuple[float, float, float, float, float]] = field(default_factory=dict)
    names: tuple[str, ...] = ()  # words that name it (its own name first)
    units: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    ages: Mapping[str, float] = field(default_factory=dict)
    recent: int | None = None

    def quantile(self, share: float, category: str | None = None) -> float | None:
        """The value below which ``share`` of the items (of ``category`` when it has its own
        figures) lie, from the quartiles, linearly."""
        stats = self.by_category.get(category) if category else None
        if stats is None:
            if self.quartiles is None or self.minimum is None or self.maximum is None:
                return None
            stats = (self.minimum, *self.quartiles, self.maximum)
        points = list(zip((0.0, 0.25, 0.5, 0.75, 1.0), stats, strict=True))
        for (low_share, low), (high_share, high) in zip(points, points[1:], strict=False):
            if share <= high_share:
                span = high_share - low_share
                return low + (high - low) * ((share - low_share) / span if span else 0.0)
        return self.maximum

    def is_year(self) -> bool:
        """A number that reads as a calendar year (named so, or whole numbers within 1800..2100)."""
        if self.kind != "number" or self.minimum is None or self.maximum is None:
            return False
        return "year" in self.name.lower() or (1800 <= self.minimum and self.maximum <= 2100)


_stamps = itertools.count(1)


@dataclass(frozen=True)
class CatalogueSchema:
    # Each schema learned gets a new stamp (caches of what was read with it key on it).
    stamp: int = field(default_factory=lambda: next(_stamps), compare=False)
    categories: tuple[str, ...] = ()
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    # value (an enum value or a category, lower case) -> words and translations that mean it
    value_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The schema as plain data (the admin and the API show it)."""
        return {
            "categories": list(self.categories),
            "attributes": {
                name: {
                    "kind": a.kind, "items": a.count, "values": list(a.values[:50]), "multi": a.multi,
                    "min": a.minimum, "max": a.maximum, "names": list(a.names), "units": list(a.units),
                    "ordering": list(a.ordering),
                }
                for name, a in self.attributes.items()
            },
        }  # fmt: skip


def vocabulary_problems(vocabulary: Any) -> list[str]:
    """What is wrong with a declared vocabulary (a tenant's, or ``LLMREC["INTENT"]`` in lower
    case), in words; [] when it is well formed."""
    if not isinstance(vocabulary, Mapping):
        return ["The vocabulary must be an object with categories, attributes and values."]
    problems = [f"Unknown part {key!r} (use categories, attributes, values)." for key in vocabulary
                if key not in ("categories", "attributes", "values")]  # fmt: skip
    for part in ("categories", "values"):
        words = vocabulary.get(part) or {}
        if not isinstance(words, Mapping) or not all(
            isinstance(v, list) and all(isinstance(w, str) for w in v) for v in words.values()
        ):
            problems.append(f'{part} must map each name to a list of words, e.g. {{"films": ["movie", "电影"]}}.')
    attributes = vocabulary.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        problems.append("attributes must map attribute names to their declarations.")
        return problems
    for name, spec in attributes.items():
        if not isinstance(spec, Mapping):
            problems.append(f"attributes[{name!r}] must be an object.")
            continue
        unknown = set(spec) - {"names", "units", "ordering", "ages", "recent"}
        if unknown:
            problems.append(f"attributes[{name!r}] has unknown keys {sorted(unknown)}.")
        for key in ("names", "units", "ordering"):
            if key in spec and not (isinstance(spec[key], list) and all(isinstance(w, str) for w in spec[key])):
                problems.append(f"attributes[{name!r}][{key!r}] must be a list of words.")
        ages = spec.get("ages", {})
        if not isinstance(ages, Mapping) or not all(_number(a) is not None for a in ages.values()):
            problems.append(f"attributes[{name!r}]['ages'] must map values to ages (numbers).")
    return problems


def _name_forms(name: str) -> list[str]:
    """Other ways a request names an attribute: "age rating" -> "rating", "rated"."""
    last = name.split()[-1] if " " in name else ""
    forms = [last] if len(last) > 3 else []
    if name.endswith("rating"):
        forms.append("rated")
    return forms


def readable(name: str) -> str:
    """``age_rating`` -> "age rating"."""
    return re.sub(r"[_\-]+", " ", name).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _quartiles(numbers: Sequence[float]) -> tuple[float, float, float]:
    ordered = sorted(numbers)

    def at(share: float) -> float:
        position = share * (len(ordered) - 1)
        low = int(math.floor(position))
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(0.25), at(0.5), at(0.75)


def _words(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Iterable):
        return ()
    return tuple(dict.fromkeys(str(w).strip().lower() for w in raw if str(w).strip()))


def learn_schema(
    categories: Iterable[str],
    rows: Iterable[Mapping[str, Any] | None | tuple[str, Mapping[str, Any] | None]],
    declared: Mapping[str, Any] | None = None,
) -> CatalogueSchema:
    """The schema of a catalogue from its categories and its items' attribute dicts, or
    ``(category, attributes)`` pairs for per-category figures (a sample of them is enough),
    with what the site ``declared`` merged in."""
    declared = declared or {}
    numbers: dict[str, list[float]] = {}
    numbers_by_category: dict[tuple[str, str], list[float]] = {}
    texts: dict[str, Counter] = {}
    booleans: dict[str, int] = Counter()
    lists: set[str] = set()
    present: Counter = Counter()
    total = 0
    for row in rows:
        category, attributes = row if isinstance(row, tuple) else ("", row)
        total += 1
        for key, value in (attributes or {}).items():
            if not isinstance(key, str) or not key.strip():
                continue
            present[key] += 1
            if isinstance(value, bool):
                booleans[key] += 1
            elif (number := _number(value)) is not None:
                numbers.setdefault(key, []).append(number)
                if category:
                    numbers_by_category.setdefault((key, category), []).append(number)
            elif isinstance(value, str):
                if 0 < len(value.strip()) <= MAX_VALUE_CHARS:
                    texts.setdefault(key, Counter())[value.strip()] += 1
            elif isinstance(value, list):
                lists.add(key)
                for element in value:
                    if isinstance(element, str) and 0 < len(element.strip()) <= MAX_VALUE_CHARS:
                        texts.setdefault(key, Counter())[element.strip()] += 1
    minimum = max(1, math.ceil(MIN_SHARE * total))
    declared_attributes = declared.get("attributes") or {}
    attributes: dict[str, Attribute] = {}
    for key, count in present.most_common():
        if count < minimum:
            continue
        spec = declared_attributes.get(key) or {}
        names = tuple(dict.fromkeys([readable(key), *_name_forms(readable(key)), *_words(spec.get("names"))]))
        common = dict(name=key, count=count, names=names, units=_words(spec.get("units")))
        if booleans[key] >= 0.8 * count:
            attributes[key] = Attribute(kind="boolean", **common)
        elif len(numbers.get(key, ())) >= 0.8 * count:
            values = numbers[key]
            recent = spec.get("recent")
            by_category = {
                category: (min(found), *_quartiles(found), max(found))
                for (name, category), found in numbers_by_category.items()
                if name == key and len(found) >= 3
            }
            attributes[key] = Attribute(
                kind="number", minimum=min(values), maximum=max(values), quartiles=_quartiles(values),
                by_category=by_category,
                recent=int(recent) if isinstance(recent, int | float) and not isinstance(recent, bool) else None,
                **common,
            )  # fmt: skip
        elif key in texts:
            counter = texts[key]
            repeated = sum(1 for c in counter.values() if c > 1)
            named = len(counter) <= MAX_OPEN_VALUES and _looks_like_names(counter)
            if named and not (
                len(counter) <= MAX_ENUM_VALUES and (repeated >= 0.5 * len(counter) or len(counter) <= 12)
            ):
                attributes[key] = Attribute(
                    kind="enum", values=tuple(v for v, _ in counter.most_common()), multi=key in lists, open=True,
                    **common,
                )  # fmt: skip
            elif len(counter) <= MAX_ENUM_VALUES and (repeated >= 0.5 * len(counter) or len(counter) <= 12):
                ordering = tuple(str(v) for v in spec.get("ordering") or () if str(v) in counter)
                ages = {
                    str(v): float(a)
                    for v, a in (spec.get("ages") or {}).items()
                    if str(v) in counter and _number(a) is not None
                }
                attributes[key] = Attribute(
                    kind="enum", values=tuple(v for v, _ in counter.most_common()), multi=key in lists,
                    ordering=ordering, ages=ages, **common,
                )  # fmt: skip
    value_words: dict[str, tuple[str, ...]] = {}
    for value, words in (declared.get("values") or {}).items():
        value_words[str(value).lower()] = _words(words)
    for category, words in (declared.get("categories") or {}).items():
        value_words[str(category).lower()] = tuple(
            dict.fromkeys([*value_words.get(str(category).lower(), ()), *_words(words)])
        )
    return CatalogueSchema(
        categories=tuple(dict.fromkeys(c for c in categories if c)),
        attributes=attributes,
        value_words=value_words,
    )
