"""The separate interests in a text a user wrote about themselves.

"cosy mysteries, funny animated films for my kids, and trail running" names three tastes; one
vector of the whole text lands between them (and usually nearest the one the catalogue has most
of). Split into phrases, each can find its own items::

    split_interests("cosy mysteries, funny animated films for my kids, and trail running")
    # ["cosy mysteries", "funny animated films for my kids", "trail running"]
    split_interests("我喜欢推理小说、动画电影和越野跑")
    # ["推理小说", "动画电影", "越野跑"]

Phrases are split at list punctuation (``, ; / |``, line breaks, the Chinese ``，、；``), at a
sentence end, and at "and" / "or" / "plus" / "和" / "与" / "及" / "还有" between phrases; lead-ins
such as "I like", "I'm into", "我喜欢" are dropped. Text with one phrase gives one phrase.
"""

from __future__ import annotations

import re

# At most this many phrases are kept (the first ones): each costs a vector search per list.
MAX_INTERESTS = 6
# Shorter phrases are noise ("a", "&"); longer ones are cut at a word boundary.
MIN_CHARS = 2
MAX_CHARS = 120

_SEPARATORS = re.compile(
    r"[,;|/\n\r\t，、；。！？!?]+"  # list punctuation, line breaks, sentence ends
    r"|\.(?:\s+|$)"  # a full stop ending a sentence (not "3.5" or "e.g")
    r"|\s+(?:and|or|plus|as well as|also)\s+"
    r"|(?<=[\u4e00-\u9fff])(?:和|与|及|还有|以及|或者|或)(?=[\u4e00-\u9fff])"
    r"|\s*(?<![\u4e00-\u9fff])(?:和|与|以及|还有)(?![\u4e00-\u9fff])\s*",  # beside words in other scripts
    re.IGNORECASE,
)
_LEAD_INS = re.compile(
    r"^(?:and|or|also|plus|but|"
    r"i(?:'m| am)? (?:really |also )?(?:like|love|enjoy|into|fond of|a fan of|interested in)|"
    r"i(?:'m| am) (?:really |also )?(?:into|fond of|a fan of|interested in)|"
    r"(?:mostly|especially|lately|currently|usually)|"
    r"我(?:很|也|还|最)?(?:喜欢|爱|爱看|爱读|想要|想看|对)|喜欢|还有|以及)\s*",
    re.IGNORECASE,
)


_TRIMMED = re.compile(r"^[\s\"'()\[\]\-–—:·]+|[\s\"'()\[\]\-–—:·]+$")


def _trim(text: str) -> str:
    return _TRIMMED.sub("", text)


def split_interests(text: str) -> list[str]:
    """The distinct interests named in ``text``, in order (at most ``MAX_INTERESTS``)."""
    phrases: list[str] = []
    seen: set[str] = set()
    for part in _SEPARATORS.split(text or ""):
        phrase = _trim(part)
        for _ in range(3):  # "and I also like ..." sheds its lead-ins one by one
            shorter = _trim(_LEAD_INS.sub("", phrase, count=1))
            if shorter == phrase:
                break
            phrase = shorter
        if len(phrase) > MAX_CHARS:
            phrase = _trim(phrase[:MAX_CHARS].rsplit(" ", 1)[0])
        key = phrase.casefold()
        if len(phrase) >= MIN_CHARS and key not in seen:
            seen.add(key)
            phrases.append(phrase)
        if len(phrases) == MAX_INTERESTS:
            break
    return phrases
