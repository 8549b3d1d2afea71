"""Loads the demo catalogue's phrase banks (see ``sample_catalogue.py``) from ``sample_data/*.json``.

The titles, people, brands, premises and personas are data, hand-written for this project, in
the JSON files next to this module (``sample_data/README.md`` explains their conventions). This
module reads them once, on import, and exposes each bank as a module constant under its name in
the JSON (``FILM_GENRES``, ``PERSONAS`` ...), which is how the generator uses them.

JSON has no tuples, so the fixed-shape records listed in ``TUPLE_PATHS`` (a film's
``(title, moods, plot)``, a ``(low, high)`` range ...) are turned back into tuples: the banks
are exactly what the hand-written Python module that preceded the JSON files held.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The folder with the JSON files (a path next to this module: the example site isn't installed).
DATA_DIR = Path(__file__).with_name("sample_data")
#: The JSON files, in reading order; a bank's name must be unique across them.
DATA_FILES = ("shared", "films", "books", "outdoor", "home", "pairs", "personas")

#: Arrays that become tuples: bank name, then keys or ``*`` (every value); absent keys are skipped.
TUPLE_PATHS = (
    "FILM_GENRES/*/runtime",
    "FILM_GENRES/*/titles/*",
    "ZH_FILMS/*",
    "DIRECTORS/*",
    "ZH_DIRECTORS/*",
    "BOOK_LENGTH_WORDS/*",
    "BOOK_GENRES/*/pages",
    "BOOK_GENRES/*/titles/*",
    "ZH_BOOKS/*",
    "AUTHORS/*",
    "ZH_AUTHORS/*",
    "GEAR_BRANDS/*",
    "GEAR_TYPES/*/weight",
    "GEAR_TYPES/*/price/*",
    "GEAR_TYPES/*/terrain_phrases_by/*",
    "ZH_GEAR/*",
    "HOME_BRANDS/*",
    "HOME_TIER_FACTORS/*",
    "HOME_PRODUCTS/*/*",
    "ZH_HOME/*",
    "TITLE_PAIRS/*",
    "TYPE_PAIRS/*",
)


def load_phrase_banks(directory: Path = DATA_DIR) -> dict[str, Any]:
    """Every bank in the JSON files by name; keys starting with ``_`` are comments and skipped."""
    banks: dict[str, Any] = {}
    for stem in DATA_FILES:
        path = directory / f"{stem}.json"
        for name, value in json.loads(path.read_text(encoding="utf-8")).items():
            if name.startswith("_"):
                continue
            if name in banks:
                raise ValueError(f"{path}: {name} is already defined in another file")
            banks[name] = value
    for spec in TUPLE_PATHS:
        name, *steps = spec.split("/")
        banks[name] = _as_tuples(banks[name], steps)
    return banks


def _as_tuples(value: Any, steps: list[str]) -> Any:
    """``value`` with the arrays that ``steps`` lead to turned into tuples."""
    if not steps:
        return tuple(value)
    step, *rest = steps
    if step == "*":
        if isinstance(value, dict):
            return {key: _as_tuples(item, rest) for key, item in value.items()}
        return [_as_tuples(item, rest) for item in value]
    if step not in value:
        return value
    return {**value, step: _as_tuples(value[step], rest)}


globals().update(load_phrase_banks())
