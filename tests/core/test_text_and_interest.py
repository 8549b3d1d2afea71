"""The Django-free core: item text recipe, interest vectors; it imports neither Django nor torch."""

import subprocess
import sys

import numpy as np
import pytest

from llmrec_django.core.interest import event_weights, interest_vector
from llmrec_django.core.text import build_item_text, build_user_text, readable_relation


def test_core_imports_neither_django_nor_torch():
    code = (
        "import sys, llmrec_django.core.text, llmrec_django.core.interest, llmrec_django.core.interest_summary; "
        "bad = [m for m in ('django', 'torch', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_item_text_recipe():
    text = build_item_text(
        "Trail Blazer 2",
        "Light shoe,   with deep lugs",
        "running shoes",
        {"price": 89.0, "color": "red", "brand": "Kestrel", "tags": ["mud", "hills"], "empty": ""},
        [("has_brand", "Kestrel"), ("good_for", "trail running"), ("has_brand", "Kestrel")],
    )
    assert text == (
        "Trail Blazer 2. Category: running shoes. Light shoe, with deep lugs. "
        "brand: Kestrel; color: red; price: 89; tags: mud, hills. "
        "Related: brand: Kestrel; good for: trail running."
    )


def test_item_text_is_deterministic_whatever_the_order():
    a = build_item_text("T", "", "", {"b": 1, "a": 2}, [("x", "2"), ("x", "1")])
    b = build_item_text("T", "", "", {"a": 2, "b": 1}, [("x", "1"), ("x", "2")])
    assert a == b


def test_chinese_text_keeps_its_punctuation():
    assert build_item_text("星际归途", "一部温暖的科幻电影。") == "星际归途. 一部温暖的科幻电影。"


def test_relation_names_are_readable():
    assert [readable_relation(r) for r in ("has_brand", "directed_by", "in_category")] == [
        "brand",
        "directed by",
        "category",
    ]


def test_user_text():
    assert build_user_text("Likes tea", ["green tea", " "]) == "Likes tea. Recently searched: green tea."
    assert build_user_text("", []) == ""


def test_event_weights_by_type_rating_and_recency():
    weights = event_weights(
        ["purchase", "rating", "rating", "dislike", "purchase"],
        [None, 5.0, 1.0, None, None],
        np.array([0, 0, 0, 0, 30 * 86400]),
        {"purchase": 3.0, "rating": 1.0, "dislike": -2.0},
        half_life_days=30,
    )
    assert weights.tolist() == pytest.approx([3.0, 1.0, -1.0, -2.0, 1.5])


def test_interest_is_the_weighted_mean_direction():
    items = np.eye(3)
    vector = interest_vector(items, np.array([2.0, 1.0, 0.0]))
    expected = np.array([2.0, 1.0, 0.0]) / np.sqrt(5)
    assert vector == pytest.approx(expected)


def test_dislikes_subtract():
    items = np.array([[1.0, 0.0], [0.6, 0.8]])
    vector = interest_vector(items, np.array([1.0, -0.5]))
    assert vector[1] < 0


def test_one_dislike_does_not_outweigh_the_interests_a_user_wrote():
    """A new user wrote "funny films for kids" (axis 0) and said "not for me" to one animated
    film close to it: their vector still points at what they asked for. Two dislikes weigh more."""
    wrote = np.array([1.0, 0.0, 0.0])
    animated = np.array([[0.9, 0.0, 0.44]])
    once = interest_vector(animated, np.array([-2.0]), wrote, 0.5)
    assert once[0] > 0.7
    twice = interest_vector(np.vstack([animated, animated]), np.array([-2.0, -2.0]), wrote, 0.5)
    assert twice[0] < once[0]


def test_negative_events_count_fully_from_the_second_on():
    items = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    one = interest_vector(items[:2], np.array([1.0, -1.0]))
    two = interest_vector(items, np.array([1.0, -0.5, -0.5]))
    assert one[1] == pytest.approx(-0.5 / np.sqrt(1.25))  # half its weight
    assert two[1] == pytest.approx(-1.0 / np.sqrt(2.0))  # the same total, at full weight


def test_profile_only_and_nothing_known():
    profile = np.array([0.0, 1.0])
    assert interest_vector(np.zeros((0, 2)), np.zeros(0), profile) == pytest.approx(profile)
    assert interest_vector(np.zeros((0, 2)), np.zeros(0), None) is None
