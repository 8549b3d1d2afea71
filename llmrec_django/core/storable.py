"""Values PostgreSQL can store: text without NUL characters (``text`` and ``jsonb`` refuse them)
or lone surrogates (not valid UTF-8), JSON without those and without NaN or infinities (not JSON).

Every value that reaches a write path from outside (a query, a request's context, a category
from a page) goes through these at the boundary, so one odd byte in a URL never becomes a row
that cannot be written; ``is_storable_text`` lets a boundary refuse instead of clean.

    storable_text("ab\\x00cd")                      # "abcd"
    storable_json({"q": "a\\x00b", "x": float("nan")})  # {"q": "ab", "x": None}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Deeper JSON than this is cut (a value nested this deep is never a request's context).
MAX_DEPTH = 20


def is_storable_text(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def storable_text(value: str) -> str:
    """``value`` without the characters PostgreSQL cannot store (NUL, lone surrogates)."""
    return _UNSTORABLE.sub("", value)


def storable_json(value: Any, *, depth: int = 0) -> Any:
    """``value`` (dicts, lists, strings, numbers, booleans, None) as JSON PostgreSQL can store:
    strings and keys cleaned, NaN and infinities as None, tuples as lists, anything else as its
    text, and nothing nested deeper than ``MAX_DEPTH``."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return storable_text(value)
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {storable_text(str(key)): storable_json(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item, depth=depth + 1) for item in value]
    return storable_text(str(value))
