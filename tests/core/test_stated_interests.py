"""Splitting a user's own words into the interests they name (English and Chinese)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec_django.core.stated_interests import MAX_CHARS, MAX_INTERESTS, split_interests


@pytest.mark.parametrize(
    ("text", "interests"),
    [
        ("cosy mysteries, funny animated films for my kids, and trail running",
         ["cosy mysteries", "funny animated films for my kids", "trail running"]),
        ("I love hiking and camping; also green tea.", ["hiking", "camping", "green tea"]),
        ("I'm into slow-burning thrillers\\nand jazz", ["slow-burning thrillers\\nand jazz"]),
        ("I'm into slow-burning thrillers\nand jazz", ["slow-burning thrillers", "jazz"]),
        ("space operas", ["space operas"]),
        ("Space operas, space operas, SPACE OPERAS", ["Space operas"]),
        ("我喜欢推理小说、动画电影和越野跑", ["推理小说", "动画电影", "越野跑"]),
        ("科幻电影，还有爵士乐", ["科幻电影", "爵士乐"]),
        ("books rated 4.5 and up", ["books rated 4.5", "up"]),
        ("", []),
        (" , ; and ", []),
    ],
)  # fmt: skip
def test_interests_are_split_at_lists_and_conjunctions(text, interests):
    assert split_interests(text) == interests


def test_at_most_a_few_interests_of_bounded_length_are_kept():
    many = ", ".join(f"topic {n}" for n in range(20))
    assert split_interests(many) == [f"topic {n}" for n in range(MAX_INTERESTS)]
    [long] = split_interests("word " * 200)
    assert len(long) <= MAX_CHARS


@given(st.text(max_size=300))
def test_any_text_gives_a_short_list_of_non_empty_phrases_taken_from_it(text):
    phrases = split_interests(text)
    assert len(phrases) <= MAX_INTERESTS
    for phrase in phrases:
        assert 2 <= len(phrase) <= MAX_CHARS and phrase == phrase.strip()
