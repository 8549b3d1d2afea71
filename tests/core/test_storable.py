"""Values PostgreSQL can store (``core.storable``): whatever comes in, what comes out is text
without NUL or lone surrogates and strict JSON."""

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from llmrec_django.core.storable import MAX_DEPTH, is_storable_text, storable_json, storable_text

# Text that includes the characters PostgreSQL refuses.
hostile_text = st.text(alphabet=st.characters(codec=None, categories=None) | st.sampled_from("\x00\ud800\udfff"))
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=30,
)


def test_the_characters_postgresql_refuses_are_removed_and_nothing_else():
    assert storable_text("ab\x00cd") == "abcd"
    assert storable_text("a\ud800b") == "ab"
    assert storable_text("naïve 冒险 🚀") == "naïve 冒险 🚀"
    assert is_storable_text("plain") and not is_storable_text("a\x00") and not is_storable_text("\udfff")


@given(hostile_text)
def test_storable_text_is_storable_and_idempotent(text):
    cleaned = storable_text(text)
    assert is_storable_text(cleaned) and storable_text(cleaned) == cleaned
    cleaned.encode("utf-8")  # valid UTF-8: no lone surrogate left
    assert len(cleaned) <= len(text)


@given(json_like)
def test_storable_json_is_strict_json_without_unstorable_text(value):
    cleaned = storable_json(value)
    encoded = json.dumps(cleaned, allow_nan=False)  # no NaN, no infinity
    encoded.encode("utf-8")
    assert "\\u0000" not in encoded


def test_odd_values_become_text_or_none():
    cleaned = storable_json({"x": float("nan"), "y": (1, float("inf")), "z": object, 3: "k\x00"})
    assert cleaned["x"] is None and cleaned["y"] == [1, None] and cleaned["3"] == "k"
    assert isinstance(cleaned["z"], str)
    deep: list = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    assert json.dumps(storable_json(deep)).count("[") <= MAX_DEPTH + 1
    assert not math.isnan(storable_json(1.5))
