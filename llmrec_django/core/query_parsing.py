"""Simple constraints read from a search query: a price ceiling, "cheap", and a category.

Usage::

    parse_query("cheap trail running shoes", categories=["running shoes", "films"])
    # ParsedQuery(text=..., max_price=None, cheap=True, category="running shoes")
    parse_query("推荐给我一些好看的电影", categories=["films"]).category   # "films"
    parse_query("tents under $150", categories=["tents"]).max_price      # 150.0

Only categories the tenant really has are recognised: a category matches when its name (or its
singular) appears in the query, or when a synonym listed in ``CATEGORY_SYNONYMS`` does and names
one of the tenant's categories. The longest match wins ("trail running shoes" before "shoes").
The module does not import Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Words people use for a category, by the category names a catalogue commonly has. Only
# categories the tenant actually has are ever returned.
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "films": ("film", "movie", "movies", "cinema", "电影", "影片", "片子"),
    "books": ("book", "novel", "novels", "read", "reading", "书", "小说", "读物"),
    "running shoes": ("runners", "trainers", "跑鞋"),
    "hiking boots": ("boots", "登山鞋"),
    "tents": ("tent", "帐篷"),
    "backpacks": ("backpack", "rucksack", "背包"),
    "rain jackets": ("rain jacket", "waterproof jacket", "雨衣"),
    "cookware": ("pan", "pans", "pot", "pots", "锅"),
    "knives": ("knife", "刀"),
    "tea sets": ("tea set", "茶具"),
    "coffee makers": ("coffee maker", "coffee machine", "咖啡机"),
    "headlamps": ("headlamp", "头灯"),
    "sleeping bags": ("sleeping bag", "睡袋"),
}

CHEAP_WORDS = ("cheap", "budget", "affordable", "inexpensive", "bargain", "便宜", "实惠", "平价")

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_PRICE_PATTERNS = [
    re.compile(rf"(?:under|below|less than|cheaper than|up to|max(?:imum)?|at most|<=?)\s*[$€£¥]?\s*{_NUMBER}", re.I),
    re.compile(rf"(?:低于|不超过|不到|少于|以内)\s*[$€£¥]?\s*{_NUMBER}"),
    re.compile(rf"[$€£¥]?\s*{_NUMBER}\s*(?:元|块|美元|dollars?)?\s*(?:以下|以内|之内)"),
]


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    max_price: float | None = None
    cheap: bool = False
    category: str | None = None
    matched: tuple[str, ...] = field(default_factory=tuple)  # the words that set a constraint

    def describe(self) -> str:
        """The constraints in plain words, e.g. 'under $50, in running shoes'."""
        parts = []
        if self.max_price is not None:
            parts.append(f"under ${self.max_price:g}")
        elif self.cheap:
            parts.append("cheap")
        if self.category:
            parts.append(f"in {self.category}")
        return ", ".join(parts)


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _contains(text: str, phrase: str) -> bool:
    phrase = phrase.lower()
    if re.search(r"[\u3000-\u9fff]", phrase):  # CJK: no word boundaries
        return phrase in text
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text) is not None


def match_category(text: str, categories: Iterable[str]) -> tuple[str | None, str | None]:
    """(category, the words that matched) for the longest category the text names, else (None, None)."""
    lowered = text.lower()
    best: tuple[int, str, str] | None = None
    for category in categories:
        if not category:
            continue
        name = category.lower()
        phrases = {name, " ".join(_singular(w) for w in name.split())}
        phrases.update(CATEGORY_SYNONYMS.get(name, ()))
        for phrase in phrases:
            if _contains(lowered, phrase) and (best is None or len(phrase) > best[0]):
                best = (len(phrase), category, phrase)
    return (best[1], best[2]) if best else (None, None)


def parse_query(text: str, categories: Iterable[str] = ()) -> ParsedQuery:
    """Constraints in ``text``; ``categories`` are the tenant's category names."""
    matched: list[str] = []
    max_price = None
    for pattern in _PRICE_PATTERNS:
        found = pattern.search(text)
        if found:
            max_price = float(found.group(1).replace(",", "."))
            matched.append(found.group(0).strip())
            break
    lowered = text.lower()
    cheap_word = next((w for w in CHEAP_WORDS if _contains(lowered, w)), None)
    if cheap_word:
        matched.append(cheap_word)
    category, phrase = match_category(text, categories)
    if phrase:
        matched.append(phrase)
    return ParsedQuery(
        text=text, max_price=max_price, cheap=bool(cheap_word), category=category, matched=tuple(matched)
    )
