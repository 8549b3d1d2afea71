"""A search request or a conversation turn as a structured intent, grounded in the catalogue.

``parse_intent(text, schema)`` reads, with the catalogue's own schema (``core.attribute_schema``):

- the **category** named (its name, singular or plural, or a word the site declared for it);
- **hard constraints** on attributes: numbers with a comparison ("under $50", "after 2015",
  "over 300 pages", "between 2 and 4 kg", "the 90s", "50元以下"), enum values ("PG", "comedy",
  "rocky terrain") with negations ("nothing scary", "no horror", "不要恐怖片"), booleans
  ("waterproof", "not rechargeable"), relative and implied terms ("recent", "cheap",
  "for my 8-year-old" -> the age ratings that suit an 8-year-old, "cheaper than these" -> below
  the shown items' median price);
- **context** words (time, occasion, weather: "tonight", "for a party", "rainy Sunday");
- what is left, the **soft** part, for the query vector.

``merge_intents(previous, turn)`` carries a conversation: a turn's constraints replace the
earlier ones on the same attribute, the rest are kept ("actually for the kids too" keeps
"films" and adds the rating limit), and "any price" / "不限价格" drops one. The same text and
schema always give the same intent. The module does not import Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llmrec_django.core.attribute_schema import Attribute, CatalogueSchema, readable

_CJK = re.compile(r"[\u3000-\u9fff]")
_NUMBER = r"(\d+(?:[.,]\d+)?)\s*(k)?"

# Words that turn what follows into "not that" (within the same clause, a few words before).
NEGATORS_EN = ("no", "not", "without", "nothing", "never", "avoid", "except", "anything but", "don't want",
               "dont want", "don't like", "no more", "skip", "less", "fewer", "non", "isn't", "aren't")  # fmt: skip
NEGATORS_ZH = ("不要", "不想", "不看", "别", "没有", "除了", "不是", "不", "少点", "少一点", "无")
_CLAUSE_END = re.compile(r"[,;.!?，；。！？]|\bbut\b|\band\b|但是|而且")

BELOW = (
    r"under|below|less than|cheaper than|shorter than|fewer than|lighter than|smaller than|older than|"
    r"up to|at most|max(?:imum)?|no more than|not more than|<=?|before|until"
)
ABOVE = (
    r"over|above|more than|longer than|heavier than|larger than|bigger than|newer than|more expensive than|"
    r"at least|min(?:imum)?|from|after|since|>=?|starting at"
)
_STRICT = re.compile(r"(?:before|until|older than|\w+er than|less than|under|below|after|over|above|more than)")
_FLIP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
BELOW_ZH = r"低于|不超过|不到|少于|以内|以下|之内|以前|之前|前"
ABOVE_ZH = r"高于|超过|至少|以上|以后|之后|起"
CURRENCY = ("$", "€", "£", "¥", "usd", "eur", "gbp", "dollar", "dollars", "euro", "euros", "pound", "pounds", "元", "块", "美元", "rmb")  # fmt: skip

RECENT_WORDS = ("recent", "new", "newer", "latest", "modern", "this year", "最近", "最新", "新的", "近几年")
OLD_WORDS = ("old", "older", "classic", "vintage", "老", "经典", "怀旧")
CHEAP_WORDS = ("cheap", "cheaper", "budget", "affordable", "inexpensive", "bargain", "low-cost", "便宜", "实惠", "平价")
EXPENSIVE_WORDS = ("expensive", "premium", "high-end", "luxury", "top-end", "贵", "高端", "奢华")
THESE_WORDS = ("these", "those", "them", "this one", "that one", "the ones", "ones", "这些", "那些", "刚才")
KIDS = ("kid", "kids", "child", "children", "family", "toddler", "little one", "孩子", "儿童", "小孩", "宝宝", "家庭")
TEENS = ("teen", "teens", "teenager", "teenagers", "青少年")
# Context words: field -> value -> words.
CONTEXT_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "time_of_day": {
        "evening": ("tonight", "this evening", "evening", "after dinner", "今晚", "晚上"),
        "morning": ("this morning", "morning", "breakfast", "早上", "早晨"),
        "afternoon": ("this afternoon", "afternoon", "lunch", "下午"),
        "night": ("late night", "midnight", "深夜"),
    },
    "occasion": {
        "party": ("party", "parties", "聚会", "派对"),
        "date": ("date night", "a date", "约会"),
        "gift": ("gift", "present", "礼物", "送人"),
        "trip": ("trip", "road trip", "holiday", "vacation", "travel", "旅行", "旅游", "出游"),
        "weekend": ("weekend", "sunday", "saturday", "周末", "周日", "周六"),
    },
    "weather": {
        "rain": ("rain", "rainy", "raining", "wet", "下雨", "雨天"),
        "snow": ("snow", "snowy", "winter", "下雪", "冬天"),
        "hot": ("hot", "heat", "summer", "sunny", "炎热", "夏天"),
        "cold": ("cold", "chilly", "freezing", "寒冷"),
    },
    "mood": {
        "calm": ("calming", "relaxing", "calm", "soothing", "cosy", "cozy", "放松", "安静"),
        "upbeat": ("uplifting", "cheerful", "upbeat", "feel-good", "feel good", "开心", "欢乐"),
    },
}
# Well-known age ratings (the youngest age each suits); a site's declared ``ages`` come first.
KNOWN_AGES = {"g": 0, "u": 0, "all": 0, "everyone": 0, "pg": 8, "12a": 12, "pg-13": 13, "r": 17, "nc-17": 18,
              "m": 15, "ma": 17, "x": 18, "adults only": 18}  # fmt: skip
KIDS_AGE = 8
TEEN_AGE = 13
RECENT_YEARS = 5


@dataclass(frozen=True)
class Constraint:
    """One hard constraint: ``attribute`` ("category" for the category) ``op`` ``value``.

    ``op``: "in" / "not_in" (a list of values), "<=", ">=", "<", ">" (a number), "is" (a boolean).
    ``words`` are the words of the request that set it; ``source`` "rule", or "turn" once a
    conversation has carried it from an earlier turn."""

    attribute: str
    op: str
    value: Any
    words: str = ""
    source: str = "rule"
    relative: bool = False  # set from a relative word ("cheap", "recent"), said with it

    def holds(self, attributes: Mapping[str, Any] | None, category: str = "") -> bool:
        """Whether an item with these ``attributes`` (and ``category``) satisfies it."""
        actual: Any = category if self.attribute == "category" else (attributes or {}).get(self.attribute)
        if self.op in ("in", "not_in"):
            values = actual if isinstance(actual, list) else [actual]
            wanted = {str(v).lower() for v in self.value}
            found = any(str(v).lower() in wanted for v in values if v is not None)
            return found if self.op == "in" else not found
        if self.op == "is":
            return actual is self.value or (actual is None and self.value is False)
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        limit = float(self.value)
        return {"<=": actual <= limit, ">=": actual >= limit, "<": actual < limit, ">": actual > limit}[self.op]

    def describe(self) -> str:
        """'price at most 50', 'age rating PG or G', 'not horror', 'waterproof'."""
        name = readable(self.attribute)
        if self.op == "in":
            return " or ".join(str(v) for v in self.value)
        if self.op == "not_in":
            return "not " + " or ".join(str(v) for v in self.value)
        if self.op == "is":
            return name if self.value else f"not {name}"
        words = {"<=": "at most", ">=": "at least", "<": "under", ">": "over"}[self.op]
        plain = f"{name} {words} {self.value:g}"
        return f"{self.words} ({plain})" if self.relative and self.words else plain

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "op": self.op, "value": self.value, "words": self.words,
                "source": self.source, "relative": self.relative, "text": self.describe()}  # fmt: skip


@dataclass(frozen=True)
class Intent:
    text: str
    constraints: tuple[Constraint, ...] = ()
    soft_text: str = ""
    context: Mapping[str, str] = field(default_factory=dict)

    @property
    def category(self) -> str | None:
        return single_category(self.constraints)

    def holds(self, attributes: Mapping[str, Any] | None, category: str = "") -> bool:
        return all(c.holds(attributes, category) for c in self.constraints)

    def satisfied(self, attributes: Mapping[str, Any] | None, category: str = "") -> list[str]:
        """The constraints an item meets, in words (its explanation: "PG, 2024, comedy: as you asked")."""
        return [c.describe() for c in self.constraints if c.holds(attributes, category)]

    def describe(self) -> str:
        return ", ".join(c.describe() for c in self.constraints)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "category": self.category,
            "constraints": [c.to_dict() for c in self.constraints],
            "soft_text": self.soft_text,
            "context": dict(self.context),
        }


# ---------------------------------------------------------------------------------------------
# Finding words


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").lower()).strip()


def _find(text: str, phrase: str) -> list[tuple[int, int]]:
    """Where ``phrase`` occurs in ``text`` (lower case), as a word (CJK: anywhere)."""
    phrase = phrase.lower().strip()
    if not phrase:
        return []
    if _CJK.search(phrase):
        return [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text)]
    plural = "" if phrase.endswith("s") else "(?:s|es)?"
    pattern = rf"(?<![\w]){re.escape(phrase)}{plural}(?![\w])"
    return [(m.start(), m.end()) for m in re.finditer(pattern, text)]


def _any(text: str, words: Sequence[str]) -> tuple[int, int] | None:
    spans = [span for word in words for span in _find(text, word)]
    return min(spans) if spans else None


def _negated(text: str, start: int) -> bool:
    """Whether a negation governs the words starting at ``start`` (same clause, a few words before)."""
    before = text[max(0, start - 30) : start]
    ends = list(_CLAUSE_END.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    latin = before.split()[-4:]
    window = " ".join(latin)
    if any(re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", window) for n in NEGATORS_EN):
        return True
    return any(n in before[-6:] for n in NEGATORS_ZH)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("s", "x", "ch", "sh")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Parse:
    text: str
    schema: CatalogueSchema
    shown: Sequence[Mapping[str, Any]]
    constraints: list[Constraint] = field(default_factory=list)
    used: list[tuple[int, int]] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)

    def take(self, span: tuple[int, int]) -> None:
        self.used.append(span)

    def free(self, span: tuple[int, int]) -> bool:
        return not any(a < span[1] and span[0] < b for a, b in self.used)

    def add(self, constraint: Constraint) -> None:
        for existing in self.constraints:
            if (existing.attribute, existing.op) == (constraint.attribute, constraint.op):
                if constraint.op in ("in", "not_in"):
                    merged = list(dict.fromkeys([*existing.value, *constraint.value]))
                    self.constraints[self.constraints.index(existing)] = replace(
                        existing, value=merged, words=f"{existing.words}, {constraint.words}"
                    )
                    return
                return  # the first number for a bound wins
        self.constraints.append(constraint)


def _named_near(p: _Parse, attribute: Attribute, start: int) -> bool:
    """Whether one of ``attribute``'s names comes just before ``start`` ("rated 15")."""
    before = p.text[max(0, start - 14) : start]
    return any(_find(before, name) for name in attribute.names)


def _name_mentions(p: _Parse) -> None:
    """Categories and attribute values named in the request, longest first (so "电子书", an
    ebook, before "书", books); one span naming several values (a word declared for each) asks
    for any of them."""
    found: dict[tuple[tuple[int, int], str], list] = {}  # (span, attribute) -> [length, priority, count, values]

    def mention(span: tuple[int, int], attribute: str, value: str, priority: int, count: int) -> None:
        entry = found.setdefault((span, attribute), [span[1] - span[0], priority, count, []])
        entry[1] = min(entry[1], priority)
        if value not in entry[3]:
            entry[3].append(value)

    for category in p.schema.categories:
        low = category.lower()
        for phrase in {low, _singular(low), *p.schema.value_words.get(low, ())}:
            for span in _find(p.text, phrase):
                mention(span, "category", category, 0, 10**9)
    for attribute in p.schema.attributes.values():
        if attribute.kind != "enum":
            continue
        for value in attribute.values:
            low = value.lower()
            phrases = [(word, 1) for word in p.schema.value_words.get(low, ())]
            if attribute.open:
                if len(low) >= 4 and low in p.text:
                    phrases.append((low, 0))
            elif len(low) > 2 or _CJK.search(low) or value != low:  # "PG", "U"; not codes such as "en"
                phrases.append((low, 0))
            elif low.isdigit():
                phrases.append((low, 2))  # "12", "15": only right after the attribute's name
            for phrase, priority in phrases:
                for span in _find(p.text, phrase):
                    if priority == 2 and not _named_near(p, attribute, span[0]):
                        continue
                    mention(span, attribute.name, value, min(priority, 1), attribute.count)
    ordered = sorted(found.items(), key=lambda e: (-e[1][0], e[1][1], -e[1][2], e[0][0]))
    for (span, attribute), (_, _, _, values) in ordered:
        if p.free(span):
            p.take(span)
            op = "not_in" if _negated(p.text, span[0]) else "in"
            p.add(Constraint(attribute, op, values, p.text[span[0] : span[1]]))


def _boolean_mentions(p: _Parse) -> None:
    for attribute in p.schema.attributes.values():
        if attribute.kind != "boolean":
            continue
        for name in attribute.names:
            for span in _find(p.text, name):
                if p.free(span):
                    p.take(span)
                    p.add(Constraint(attribute.name, "is", not _negated(p.text, span[0]), p.text[span[0] : span[1]]))


def _numeric_attributes(schema: CatalogueSchema) -> list[Attribute]:
    return [a for a in schema.attributes.values() if a.kind == "number"]


def _attribute_near(p: _Parse, start: int, end: int, number: float, money: bool) -> Attribute | None:
    """The numeric attribute a number at ``start:end`` is about: the one named (or with a unit)
    closest to it, in its words or just around them; money for a price; a year-like number for
    a year; else the one attribute whose range holds it (among those the request names, if any)."""
    numeric = [a for a in _numeric_attributes(p.schema) if _plausible(a, number)]
    # Around the number, but not across another number ("after 2010 over 350 pages").
    window_start, window_end = max(0, start - 32), min(len(p.text), end + 25)
    digits_before = [m.end() for m in re.finditer(r"\d", p.text[window_start:start])]
    if digits_before:
        window_start += digits_before[-1]
    digit_after = re.search(r"\d", p.text[end:window_end])
    if digit_after:
        window_end = end + digit_after.start()
    best: tuple[int, Attribute] | None = None
    for attribute in numeric:
        words = [*attribute.names, *attribute.units, *(n.split()[-1] for n in attribute.names if " " in n)]
        for word in words:
            for a, b in _find(p.text[window_start:window_end], word):
                a, b = a + window_start, b + window_start
                distance = 0 if start <= a and b <= end else min(abs(a - end), abs(start - b))
                if best is None or distance < best[0]:
                    best = (distance, attribute)
    if best is not None:
        return best[1]
    if money:
        priced = [a for a in numeric if "price" in a.name.lower() or any(u in CURRENCY for u in a.units)]
        return priced[0] if priced else None
    if 1800 <= number <= 2100 and number.is_integer():
        years = [a for a in numeric if a.is_year()]
        if years:
            return years[0]
    holding = [a for a in numeric if a.minimum is not None and a.minimum <= number <= (a.maximum or number)]
    named = [a for a in holding if any(_find(p.text, n) for n in a.names)]
    if len(named) == 1:
        return named[0]
    return holding[0] if len(holding) == 1 else None


def _plausible(attribute: Attribute, number: float) -> bool:
    """Whether ``number`` could be a value of ``attribute`` (within its range, widened by the
    range's own width: 2010 is not a page count of a catalogue whose books have 180..680)."""
    if attribute.minimum is None or attribute.maximum is None:
        return True
    width = max(attribute.maximum - attribute.minimum, abs(attribute.maximum) * 0.5, 1.0)
    return attribute.minimum - width <= number <= attribute.maximum + width


def _amount(raw: str, thousands: str | None) -> float:
    value = (
        float(raw.replace(",", "")) if raw.count(",") and len(raw.split(",")[-1]) == 3 else float(raw.replace(",", "."))
    )
    return value * 1000 if thousands else value


def _number_mentions(p: _Parse) -> None:
    money = r"(?:[$€£¥]\s*)?"
    patterns = [
        (re.compile(rf"(?:between|from)\s+{money}{_NUMBER}\s*(?:and|to|-)\s*{money}{_NUMBER}"), "range"),
        (re.compile(rf"{money}{_NUMBER}\s*(?:-|–|to|到|至)\s*{money}{_NUMBER}"), "range"),
        (re.compile(rf"(?:{BELOW})\s*{money}{_NUMBER}"), "<="),
        (re.compile(rf"(?:{ABOVE})\s*{money}{_NUMBER}"), ">="),
        (re.compile(rf"(?:{BELOW_ZH})\s*{money}{_NUMBER}"), "<="),
        (re.compile(rf"(?:{ABOVE_ZH})\s*{money}{_NUMBER}"), ">="),
        (re.compile(rf"{money}{_NUMBER}\s*(?:元|块|美元|年|页|人|分钟)?\s*(?:{BELOW_ZH})"), "<="),
        (re.compile(rf"{money}{_NUMBER}\s*(?:元|块|美元|年|页|人|分钟)?\s*(?:{ABOVE_ZH})"), ">="),
        (re.compile(rf"{money}{_NUMBER}\s*(?:\+|or more|or above|and up|plus)"), ">="),
        (re.compile(rf"{money}{_NUMBER}\s*(?:or less|or under|or below|max)"), "<="),
    ]
    for pattern, kind in patterns:
        for match in pattern.finditer(p.text):
            span = (match.start(), match.end())
            if not p.free(span):
                continue
            chunk = match.group(0)
            money_here = (
                any(sym in chunk for sym in ("$", "€", "£", "¥", "元", "块", "美元"))
                or bool(re.match(r"\s*(dollars?|euros?|pounds?|元|块|美元|usd|eur)", p.text[span[1] : span[1] + 9]))
                or bool(
                    re.search(r"(cheaper|price|cost|budget|价格|价钱)", p.text[max(0, span[0] - 20) : span[0] + 14])
                )
            )
            numbers = [_amount(g, t) for g, t in zip(match.groups()[0::2], match.groups()[1::2], strict=True) if g]
            attribute = _attribute_near(p, span[0], span[1], numbers[0], money_here)
            if attribute is None:
                continue
            p.take(span)
            if kind == "range" and len(numbers) == 2:
                low, high = sorted(numbers)
                p.add(Constraint(attribute.name, ">=", low, chunk))
                p.add(Constraint(attribute.name, "<=", high, chunk))
            else:
                value = numbers[0]
                op = kind
                if op in ("<=", ">=") and _STRICT.match(chunk):
                    op = op[0]
                if _negated(p.text, span[0]):  # "not from before 2010", "nothing older than 2015"
                    op = _FLIP[op]
                p.add(Constraint(attribute.name, op, value, chunk))
    # Decades: "the 90s", "1990s", "90年代".
    for match in re.finditer(r"(?:the\s+)?(?:(19|20)?(\d)0)'?s\b|(\d)0年代", p.text):
        span = (match.start(), match.end())
        years = [a for a in _numeric_attributes(p.schema) if a.is_year()]
        if not years or not p.free(span):
            continue
        if match.group(3):
            decade = 1900 + int(match.group(3)) * 10
        else:
            century = int(match.group(1)) * 100 if match.group(1) else (1900 if int(match.group(2)) >= 3 else 2000)
            decade = century + int(match.group(2)) * 10
        p.take(span)
        p.add(Constraint(years[0].name, ">=", float(decade), match.group(0)))
        p.add(Constraint(years[0].name, "<=", float(decade + 9), match.group(0)))


def _price_attribute(schema: CatalogueSchema) -> Attribute | None:
    for attribute in _numeric_attributes(schema):
        if "price" in attribute.name.lower() or any(u in CURRENCY for u in attribute.units):
            return attribute
    return None


def _relative_mentions(p: _Parse) -> None:
    years = [a for a in _numeric_attributes(p.schema) if a.is_year()]
    price = _price_attribute(p.schema)
    these = _any(p.text, THESE_WORDS) is not None or bool(re.search(r"cheaper ones|newer ones|更便宜|更新", p.text))
    shown_prices = sorted(float(v) for v in (s.get(price.name) for s in p.shown) if _plain_number(v)) if price else []
    if price is not None and (span := _any(p.text, CHEAP_WORDS)) and p.free(span):
        p.take(span)
        if these and shown_prices and ("cheaper" in p.text or "更便宜" in p.text):
            middle = shown_prices[len(shown_prices) // 2]
            p.add(Constraint(price.name, "<", middle, "cheaper than these", relative=True))
        elif all(c.attribute != price.name for c in p.constraints):
            ceiling = price.quantile(1 / 3, single_category(p.constraints))
            if ceiling is not None:
                p.add(Constraint(price.name, "<=", round(ceiling, 2), p.text[span[0] : span[1]], relative=True))
    if price is not None and (span := _any(p.text, EXPENSIVE_WORDS)) and p.free(span) and not _negated(p.text, span[0]):
        p.take(span)
        floor = price.quantile(2 / 3, single_category(p.constraints))
        if floor is not None and all(c.attribute != price.name for c in p.constraints):
            p.add(Constraint(price.name, ">=", round(floor, 2), p.text[span[0] : span[1]], relative=True))
    if years:
        year = years[0]
        if (
            (span := _any(p.text, RECENT_WORDS))
            and p.free(span)
            and all(c.attribute != year.name for c in p.constraints)
        ):
            p.take(span)
            shown_years = [float(s.get(year.name)) for s in p.shown if _plain_number(s.get(year.name))]
            if these and shown_years and re.search(r"newer|more recent|更新", p.text):
                p.add(
                    Constraint(
                        year.name, ">", sorted(shown_years)[len(shown_years) // 2], "newer than these", relative=True
                    )
                )
            elif year.maximum is not None:
                since = year.maximum - (year.recent or RECENT_YEARS)
                p.add(Constraint(year.name, ">=", since, p.text[span[0] : span[1]], relative=True))
        elif (
            (span := _any(p.text, OLD_WORDS)) and p.free(span) and not p.text[span[1] :].lstrip().startswith("than")
            and all(c.attribute != year.name for c in p.constraints)
        ):  # fmt: skip
            p.take(span)
            ceiling = year.quantile(0.25)
            if ceiling is not None:
                p.add(Constraint(year.name, "<=", round(ceiling), p.text[span[0] : span[1]], relative=True))


def single_category(constraints: Sequence[Constraint]) -> str | None:
    """The one category a request asks for, if it names exactly one."""
    for c in constraints:
        if c.attribute == "category" and c.op == "in" and len(c.value) == 1:
            return str(c.value[0])
    return None


# Words after a count that name what is counted: "2 people", "a 3-person tent", "4人".
COUNT_WORDS = ("person", "persons", "people", "人", "seat", "seats", "sleeps", "player", "players", "guests")


def _count_mentions(p: _Parse) -> None:
    """'for 2 people', 'a 3-person tent', '4人' -> at least that many, on the numeric attribute
    whose name says it counts people (capacity, persons, seats ...)."""
    counted = [
        a for a in _numeric_attributes(p.schema)
        if any(w in a.name.lower() for w in ("person", "people", "capacity", "seat", "sleep", "player", "guest"))
    ]  # fmt: skip
    if not counted:
        return
    for match in re.finditer(r"(\d{1,3})\s*-?\s*(person|persons|people|seat|seats|player|players|guests|人)", p.text):
        span = (match.start(), match.end())
        if p.free(span):
            p.take(span)
            p.add(Constraint(counted[0].name, ">=", float(match.group(1)), match.group(0)))
            return


def _plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _age_of(value: str, declared: Mapping[str, float]) -> float | None:
    if value in declared:
        return declared[value]
    low = value.lower().strip()
    if low in KNOWN_AGES:
        return float(KNOWN_AGES[low])
    number = re.search(r"(\d{1,2})", low)
    return float(number.group(1)) if number else None


def _age_mentions(p: _Parse) -> None:
    age = None
    match = re.search(r"(\d{1,2})\s*(?:-|\s)?\s*(?:year|yr)s?\s*(?:-|\s)?\s*olds?|(\d{1,2})\s*岁", p.text)
    words = ""
    if match:
        age, words = float(match.group(1) or match.group(2)), match.group(0)
    elif span := _any(p.text, TEENS):
        age, words = float(TEEN_AGE), p.text[span[0] : span[1]]
    elif span := _any(p.text, KIDS):
        age, words = float(KIDS_AGE), p.text[span[0] : span[1]]
    if age is None:
        return
    if match:
        p.take((match.start(), match.end()))
    for attribute in p.schema.attributes.values():
        if attribute.kind != "enum" or "age" not in attribute.name.lower() and "rating" not in attribute.name.lower():
            continue
        suited = [v for v in attribute.values if (a := _age_of(v, attribute.ages)) is not None and a <= age]
        if suited and all(c.attribute != attribute.name or c.op == "not_in" for c in p.constraints):
            p.add(Constraint(attribute.name, "in", suited, words))
            return


def _context_mentions(p: _Parse) -> None:
    for name, options in CONTEXT_WORDS.items():
        for value, words in options.items():
            if _any(p.text, words) is not None:
                p.context.setdefault(name, value)


def _soft_text(p: _Parse, original: str) -> str:
    kept, last = [], 0
    for start, end in sorted(p.used):
        kept.append(p.text[last:start])
        last = max(last, end)
    kept.append(p.text[last:])
    text = re.sub(
        r"\b(?:no|not|without|nothing|less|never|don't want|不要|别)\s*(?=[,;.，；。]|$)", " ", " ".join(kept)
    )
    text = re.sub(r"\s+", " ", re.sub(r"\s+([,;.，；。])", r"\1", text)).strip(" ,;.，；。")
    return text or _norm(original)


def parse_intent(text: str, schema: CatalogueSchema, *, shown: Sequence[Mapping[str, Any]] = ()) -> Intent:
    """The intent of one request (``shown``: the attributes of the items shown just before, for
    "cheaper than these")."""
    p = _Parse(text=_norm(text)[:2000], schema=schema, shown=shown)
    _number_mentions(p)
    _name_mentions(p)
    _boolean_mentions(p)
    _age_mentions(p)
    _count_mentions(p)
    _relative_mentions(p)
    _context_mentions(p)
    return Intent(text=text, constraints=tuple(p.constraints), soft_text=_soft_text(p, text), context=p.context)


def intent_from_dict(data: Mapping[str, Any] | None) -> Intent | None:
    """The ``Intent`` that ``Intent.to_dict`` stored (a conversation's), or None; malformed parts
    are left out."""
    if not isinstance(data, Mapping) or not data:
        return None
    constraints = []
    for raw in data.get("constraints") or ():
        if not isinstance(raw, Mapping) or raw.get("op") not in ("in", "not_in", "<=", ">=", "<", ">", "is"):
            continue
        value = raw.get("value")
        if raw["op"] in ("in", "not_in") and not isinstance(value, list):
            continue
        if raw["op"] in ("<=", ">=", "<", ">") and (isinstance(value, bool) or not isinstance(value, int | float)):
            continue
        constraints.append(
            Constraint(
                str(raw.get("attribute", "")),
                raw["op"],
                value,
                str(raw.get("words", "")),
                str(raw.get("source", "rule")),
                bool(raw.get("relative", False)),
            )  # fmt: skip
        )
    context = (
        {str(k): str(v) for k, v in (data.get("context") or {}).items()}
        if isinstance(data.get("context"), Mapping)
        else {}
    )
    return Intent(
        text=str(data.get("text", "")), constraints=tuple(constraints), soft_text=str(data.get("soft_text", "")),
        context=context,
    )  # fmt: skip


def without(intent: Intent, attributes: Sequence[str]) -> Intent:
    """``intent`` with the constraints on ``attributes`` removed (a chip the user closed)."""
    dropped = set(attributes)
    return replace(intent, constraints=tuple(c for c in intent.constraints if c.attribute not in dropped))


INSTEAD_WORDS = ("instead", "rather", "actually", "换成", "改成", "而是", "换一个")
DROP_WORDS = (
    "any",
    "whatever",
    "don't care about",
    "forget the",
    "no matter",
    "regardless of",
    "不限",
    "无所谓",
    "随便",
)


def merge_intents(previous: Intent | None, turn: Intent, schema: CatalogueSchema | None = None) -> Intent:
    """A conversation's intent after ``turn``: its constraints replace the earlier ones on the
    same attribute, earlier ones on other attributes are kept (marked "turn"), and "any price",
    "forget the year", "不限价格" drop an attribute's."""
    if previous is None:
        return turn
    text = _norm(turn.text)
    dropped = set()
    for attribute in schema.attributes.values() if schema else ():
        for name in attribute.names:
            for span in _find(text, name):
                if any(w in text[max(0, span[0] - 20) : span[0]] for w in DROP_WORDS):
                    dropped.add(attribute.name)
    if schema and any(w in text for w in DROP_WORDS) and re.search(r"any (?:kind|category|type)", text):
        dropped.add("category")
    replaced = {c.attribute for c in turn.constraints} | dropped
    kept = [replace(c, source="turn") for c in previous.constraints if c.attribute not in replaced]
    asks_for_values = any(c.op == "in" and c.attribute != "category" for c in turn.constraints)
    if asks_for_values and any(_find(text, w) for w in INSTEAD_WORDS):
        # "something funny instead": what was asked for before gives way (its exclusions stay)
        kept = [c for c in kept if c.attribute == "category" or c.op != "in" or isinstance(c.value, int | float)]
    context = {**previous.context, **turn.context}
    soft = turn.soft_text if turn.soft_text else previous.soft_text
    return Intent(text=turn.text, constraints=(*kept, *turn.constraints), soft_text=soft, context=context)
