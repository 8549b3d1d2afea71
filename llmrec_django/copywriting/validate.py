"""The safety gate for model-written copy: what an LLM wrote is shown only if it passes.

Usage::

    text = validate_copy(raw, request, catalogue_titles=lookup)  # or CopyRejected

Rules (each failure raises ``CopyRejected`` with a short reason):

- not empty, at most ``request.max_chars`` characters;
- no links: URLs, ``www.``, bare domains (``evil.example``), IP addresses, e-mail addresses;
- no markup: HTML tags or entities, Markdown links, images, code, emphasis, headings, lists, JSON;
- nothing that reads like an injection at work: "ignore previous instructions", "system prompt",
  the prompt's data markers;
- no phone numbers; no sales, urgency, account or health claims ("free", "50% off", "hurry", "only 2
  left", "verify your account", "you won") unless the item facts themselves hold that word;
- grounded: it names at least one of the given items; every quoted phrase comes from the given
  facts; every number is one the item facts hold; every capitalised name is in the item facts
  (not only in the shopper's text: that is data too); it copies no run of ``COPIED_WORDS`` words
  from an item description or the shopper's text (free text a seller, a shopper or an attacker
  wrote, never a fact); no health claims ("cures", "clinically proven"); and no other catalogue item is named
  (``catalogue_titles(phrases)`` returns the titles among ``phrases`` that exist in the
  catalogue; the service looks them up in the database).

Given titles and the quoted titles in the explanations are masked before the link and markup
rules run, so an item called "Node.js in Action" does not read as a domain. The returned text is
plain; it is HTML-escaped where it is rendered (``Copy.html``), like any other text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from llmrec_django.copywriting.base import CopyRequest
from llmrec_django.copywriting.grounded import CONNECTING_WORDS

TitleLookup = Callable[[Iterable[str]], Iterable[str]]

MAX_TITLE_WORDS = 8

_QUOTED = re.compile(r'"([^"]{2,200})"|“([^”]{2,200})”|«([^»]{2,200})»|„([^“”]{2,200})[“”]')
_LINKS = [
    ("a link", re.compile(r"(?i)\b(?:https?|ftp|file|javascript|data)\s*:")),
    ("a link", re.compile(r"(?i)\bwww\d?\.")),
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("a link", re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b(?!\.\w)")),
    ("a link", re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")),
]
_MARKUP = [
    ("HTML", re.compile(r"<\s*/?\s*[a-zA-Z!?]|/\s*>")),
    ("HTML", re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")),
    ("Markdown", re.compile(r"\[[^\]]*\]\s*\(|!\[|`|\*\*|__|~~")),
    ("Markdown", re.compile(r"(?m)^\s*(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|>)")),
    ("JSON", re.compile(r"[{}]")),
]
_INJECTION = re.compile(
    r"(?i)\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|\bsystem\s+(?:prompt|message)\b|\b(?:BEGIN|END)\s+DATA\b|\bDATA\s+[0-9a-f]{12}\b|\bas an ai\b|\bjailbreak"
)
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
# A run of digit groups (a country code, an area code in brackets) with 7 digits or more in all.
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{2,8}(?:[\s.-]\d{2,8}){0,4}(?![\w])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Claims a recommendation must not make unless the facts do: (label, pattern, words that would
# back it in the facts).
_CLAIMS = [
    (
        "a sales claim",
        re.compile(
            r"(?i)\b(?:free|discount\w*|on sale|sale price|% off|\d+\s*percent off|bargain|"
            r"coupon|promo(?:tion|tional)?(?: code)?|voucher|cashback|refund\w*|cheapest|"
            r"lowest price|best price|save \$?\d)"
        ),
    ),
    (
        "an urgency claim",
        re.compile(
            r"(?i)\b(?:hurry|act (?:now|fast)|today only|limited[- ]time|last chance|"
            r"only \d+ left|while (?:stocks?|supplies) last|selling fast|ends (?:today|tonight|soon)|"
            r"don'?t miss|before (?:it'?s|they'?re) gone|right now|immediately|urgent\w*)"
        ),
    ),
    (
        "an account claim",
        re.compile(
            r"(?i)\b(?:your account|password|verify|confirm your|log ?in|sign ?in|credit card|"
            r"card (?:number|details)|bank details|payment details|suspended|locked out|"
            r"you(?:'ve| have)? won|winner|prize|congratulations|gift card|claim your)"
        ),
    ),
    (
        "a health claim",
        re.compile(
            r"(?i)\b(?:cures?|cured|heals?|healing|clinically|medically|proven to|guarantee[ds]?|"
            r"miracle|remedy|doctor[- ]recommended)\b"
        ),
    ),
]
COPIED_WORDS = 6


class CopyRejected(ValueError):
    """Generated copy failed a rule; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def allowed_names(request: CopyRequest) -> list[str]:
    """Titles copy may name: the given items, and the items quoted in their explanations."""
    names = list(request.titles)
    for item in request.items:
        names += [next(g for g in m.groups() if g) for m in _QUOTED.finditer(item.explanation)]
    # A quoted phrase that holds a link, an address or markup is never a name to skip over.
    names = [n for n in names if not re.search(r"[@<>]|://|\bwww\.", n)]
    return sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)


def _facts_text(request: CopyRequest, *, profile: bool = True, descriptions: bool = True) -> str:
    parts = [request.profile] if profile else []
    for item in request.items:
        parts += [item.title, item.category, item.explanation]
        parts += [item.description] if descriptions else []
        parts += [f"{k} {v}" for k, v in item.attributes]
    return _normalise(" ".join(parts))


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _NUMBER.finditer(text)}


def _check_claims(masked: str, request: CopyRequest, names_masked: str) -> None:
    """Phone numbers, claims, numbers and names the item facts do not hold."""
    item_facts = _facts_text(request, profile=False, descriptions=False)
    known_numbers = _numbers(item_facts)
    for match in _PHONE.finditer(masked):
        found = match.group(0)
        if sum(c.isdigit() for c in found) >= 7 and not (found.isdigit() and found in known_numbers):
            raise CopyRejected("contains a phone number")  # not "58.99", nor a count of 4780653 the facts hold
    for label, pattern in _CLAIMS:
        for match in pattern.finditer(masked):
            if _normalise(match.group(0)) not in item_facts:
                raise CopyRejected(f"makes {label} the facts do not: {match.group(0)[:40]!r}")
    for number in _numbers(masked):
        if number not in known_numbers:
            raise CopyRejected(f"states a number the facts do not hold: {number[:20]!r}")
    known_words = set(_WORD.findall(item_facts))
    for sentence in re.split(r"(?<=[.!?])\s+", masked):
        for word in _WORD.findall(sentence)[1:]:  # the first word of a sentence is capitalised anyway
            if word[:1].isupper() and word.casefold() not in known_words and word not in ("I", "I'm", "I've"):
                raise CopyRejected(f"names something not in the facts: {word[:40]!r}")
    # A run of words in the description's order is copied when it carries words of its own: a run
    # of fact words and plain connecting words ("is a mid-range coffee canister") is the facts.
    fact_vocabulary = known_words | CONNECTING_WORDS
    runs = set()
    for stretch in re.split(r"\x00", _normalise(names_masked)):  # no run across a named item
        words = _WORD.findall(stretch)
        for i in range(len(words) - COPIED_WORDS + 1):
            run = words[i : i + COPIED_WORDS]
            if sum(w not in fact_vocabulary for w in run) >= 2:
                runs.add(" ".join(run))
    for source, free_text in [("the item description", item.description) for item in request.items] + [
        ("the shopper's own words", request.profile)
    ]:
        words = " ".join(_WORD.findall(_normalise(free_text)))
        for run in runs:
            if run in words:
                raise CopyRejected(f"copies {source}: {run[:60]!r}")


def clean_generated_text(text: str) -> str:
    """Trim what models add around the answer: whitespace, wrapping quotes, an unfinished sentence."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if text and text[-1] not in ".!?\"')”" and re.search(r"[.!?][\"')”]?\s", text):
        text = re.split(r"(?<=[.!?])[\"')”]?\s+(?=[^.!?]*$)", text)[0]  # drop the cut-off last sentence
    return text.strip()


def phrases(text: str, max_words: int = MAX_TITLE_WORDS) -> set[str]:
    """Every run of 1..max_words consecutive words of ``text`` as written, inner punctuation
    included ("Star Wars: A New Hope"), whitespace collapsed: the candidate titles."""
    spans = [m.span() for m in _WORD.finditer(text)]
    return {
        " ".join(text[spans[i][0] : spans[i + n - 1][1]].split())
        for n in range(1, max_words + 1)
        for i in range(len(spans) - n + 1)
    }


def validate_copy(
    text: str,
    request: CopyRequest,
    *,
    catalogue_titles: TitleLookup | None = None,
) -> str:
    """``text`` cleaned and checked against the rules above; raises ``CopyRejected``."""
    if not isinstance(text, str):
        raise CopyRejected(f"not text ({type(text).__name__})")
    for label, pattern in _MARKUP[3:4]:  # line-based rules, before whitespace is collapsed
        if pattern.search(text):
            raise CopyRejected(f"contains {label}")
    text = " ".join(clean_generated_text(text).split())
    if not text:
        raise CopyRejected("empty")
    if len(text) > request.max_chars:
        raise CopyRejected(f"too long ({len(text)} > {request.max_chars} characters)")
    if _INJECTION.search(text):
        raise CopyRejected("reads like an injected instruction")

    names = allowed_names(request)
    masked = text
    for name in names:
        masked = re.sub(re.escape(name), " ", masked, flags=re.IGNORECASE)
    for label, pattern in _LINKS:
        if pattern.search(masked):
            raise CopyRejected(f"contains {label}")
    for label, pattern in _MARKUP:
        if pattern.search(masked):
            raise CopyRejected(f"contains {label}")

    folded = _normalise(text)
    given = [t for t in request.titles if _normalise(t)]
    if given and not any(_normalise(t) in folded for t in given):
        raise CopyRejected("names none of the recommended items")
    facts = _facts_text(request)
    for match in _QUOTED.finditer(text):
        quoted = _normalise(next(g for g in match.groups() if g)).strip(" ,.;:!?")
        if quoted not in facts:
            raise CopyRejected(f"quotes something not in the facts: {quoted[:60]!r}")
    if catalogue_titles is not None:
        allowed = {_normalise(n) for n in names}
        for title in catalogue_titles(phrases(text)):
            if _normalise(title) not in allowed and not any(_normalise(title) in a for a in allowed):
                raise CopyRejected(f"names an item that was not recommended: {title[:60]!r}")
    names_masked = text
    for name in names:
        names_masked = re.sub(re.escape(name), "\x00", names_masked, flags=re.IGNORECASE)
    _check_claims(masked, request, names_masked)
    return text
