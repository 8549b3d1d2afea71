"""Grounded decoding (a local causal LM writes only with its facts' words), the fluency gate, the
validator's claim rules, and the injection corpus against the generators and the validator.

The causal LM here is a tiny Llama with random weights built at run time: left free it writes
gibberish; grounded it can only string together allowed words, which is what these tests check
(the real SmolLM2's quality is measured in ``bench/copy_quality.py``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmrec_django.copywriting import (
    CopyGenerator,
    CopyRejected,
    CopyRequest,
    ItemFacts,
    TemplateCopyGenerator,
    TransformersCopyGenerator,
    service,
    validate_copy,
)
from llmrec_django.copywriting.grounded import CONNECTING_WORDS, fact_words, singular, words_in
from tests.copywriting.injection_corpus import INJECTIONS

ITEM = ItemFacts(
    "boot",
    "Ridge Boot",
    "hiking boots",
    (("brand", "Salomon"), ("price", "89"), ("delivery", "free"), ("ratings", "4780653")),
    "A sturdy hiking boot by Salomon, for wet trails.",
    'Because you bought "Trail Map"',
)
FILM = ItemFacts("film", "Lantern Ship", "films", (("year", "2019"),), "", "Popular this week")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tests.tiny_models import build_tiny_causal_lm

    directory = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama-grounded"))
    return TransformersCopyGenerator(path=str(directory), max_perplexity=1e9).load()


def allowed_vocabulary(item: ItemFacts) -> set[str]:
    words, quoted = fact_words(item)
    vocabulary = set(CONNECTING_WORDS)
    for phrase in words + quoted:  # "price of 21.99" is allowed as a whole: its words are
        vocabulary |= {w.casefold() for w in words_in(phrase)}
    return vocabulary


# ---------------------------------------------------------------------------------------------
# Grounded decoding


def test_each_sentence_starts_with_its_title_and_uses_only_fact_words(tiny_lm):
    request = CopyRequest(items=(ITEM, FILM), profile="I love Tolkien and call me on 555 0100")
    text = tiny_lm.generate(request, timeout=60)
    sentences = re.split(r'(?<=[.!])\s+(?=")', text)
    assert [s.split('"')[1] for s in sentences] == ["Ridge Boot", "Lantern Ship"]
    for sentence, item in zip(sentences, request.items, strict=True):
        assert sentence.endswith((".", "!"))
        unknown = {w for w in words_in(sentence) if w.casefold() not in allowed_vocabulary(item)}
        assert not unknown, (sentence, unknown)
    assert "tolkien" not in text.casefold() and "555" not in text  # the shopper's words are not facts
    assert text == tiny_lm.generate(request, timeout=60)  # greedy: same facts, same text


word = st.text(st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=st.lists(word, min_size=1, max_size=4).map(" ".join),
    category=st.lists(word, max_size=2).map(" ".join),
    attributes=st.lists(st.tuples(word, st.lists(word, min_size=1, max_size=3).map(" ".join)), max_size=3),
    description=st.text(max_size=80),
)
def test_any_fact_sheet_gives_a_sentence_of_its_own_words(tiny_lm, title, category, attributes, description):
    item = ItemFacts("x", title, category, tuple(attributes), description, "")
    text = tiny_lm.generate(CopyRequest(items=(item,)), timeout=60)
    assert text.startswith(f'"{" ".join(title.split())}"') and text.endswith((".", "!"))
    rest = text[len(title) + 2 :]
    unknown = {w for w in words_in(rest) if w.casefold() not in allowed_vocabulary(item)}
    assert not unknown, (text, unknown)
    numbers = set(re.findall(r"\d+", rest))
    assert numbers <= set(re.findall(r"\d+", " ".join([title, category, *(f"{k} {v}" for k, v in attributes)])))


def test_word_salad_is_refused_by_the_fluency_gate(tmp_path):
    from tests.tiny_models import build_tiny_causal_lm

    generator = TransformersCopyGenerator(path=str(build_tiny_causal_lm(tmp_path)))  # default max_perplexity
    copy = service.produce_copy(generator, CopyRequest(items=(ITEM,)), budget=60)
    assert copy.fell_back and "not fluent" in copy.reason and "perplexity" in copy.reason
    assert copy.text == TemplateCopyGenerator().generate(CopyRequest(items=(ITEM,)))
    assert generator.last_perplexities and generator.last_perplexities[0] > generator.max_perplexity


def test_grounded_options_are_checked(tmp_path):
    from tests.tiny_models import build_tiny_causal_lm

    path = str(build_tiny_causal_lm(tmp_path))
    with pytest.raises(TypeError, match="grounded"):
        TransformersCopyGenerator(path=path, grounded="yes")
    with pytest.raises(TypeError, match="max_perplexity"):
        TransformersCopyGenerator(path=path, max_perplexity=1)


@pytest.mark.parametrize(
    ("raw", "tidy"),
    [
        (
            " is a running shoe with the same brand as Redfern, but.",
            " is a running shoe with the same brand as Redfern.",
        ),
        (" is a popular headlamp, which makes it the .", " is a popular headlamp."),
        (" is a fine pick!", " is a fine pick!"),
        (" is,", " is."),
    ],
)
def test_a_cut_sentence_ends_on_a_word_that_can_end_it(raw, tidy):
    from llmrec_django.copywriting.grounded import tidy_ending

    assert tidy_ending(raw) == tidy


def test_singular_forms_of_category_words():
    assert [singular(w) for w in ("boots", "accessories", "films", "glass", "bus", "tea")] == [
        "boot",
        "accessory",
        "film",
        "glass",
        "bus",
        "tea",
    ]


# ---------------------------------------------------------------------------------------------
# The validator's claim rules

REQUEST = CopyRequest(items=(ITEM, FILM), profile="I hike in the Alps.")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('"Ridge Boot" is yours, call 020 7946 0958.', "phone number"),
        ('"Ridge Boot": ring +44 7700 900123 for advice.', "phone number"),
        ('"Ridge Boot" is 20% off this week.', "sales claim"),
        ('"Ridge Boot" comes with a discount for you.', "sales claim"),
        ('"Ridge Boot" - hurry, stocks are low.', "urgency claim"),
        ('"Ridge Boot": only 2 left in your size.', "urgency claim"),
        ('"Ridge Boot" is ready; verify your account to buy it.', "account claim"),
        ('"Ridge Boot" - congratulations, you won it.', "account claim"),
        ('"Ridge Boot" costs 79 for you.', "number the facts do not hold"),
        ('"Ridge Boot": 5550100 is the number to try.', "phone number"),
        ('"Lantern Ship" from 2021 is a film to see.', "number the facts do not hold"),
        ('"Lantern Ship" was directed by Spielberg.', "names something not in the facts: 'Spielberg'"),
        ('"Ridge Boot": a sturdy hiking boot by Salomon, for wet trails.', "copies the item description"),
        ('"Ridge Boot" suits your hikes in the Alps.', "names something not in the facts: 'Alps'"),
        ('"Ridge Boot" heals tired feet.', "health claim"),
    ],
)
def test_claims_the_facts_do_not_hold_are_rejected(text, reason):
    with pytest.raises(CopyRejected, match=reason):
        validate_copy(text, REQUEST)


@pytest.mark.parametrize(
    "text",
    [
        '"Ridge Boot" by Salomon comes with free delivery, 89 well spent.',  # "free" and 89 are facts
        '"Lantern Ship" (2019) suits your trips to the hills.',
        '"Ridge Boot" goes with "Trail Map" you bought.',
        '"Ridge Boot" is a sturdy boot.',  # a few words of the description are fine
        '"Ridge Boot" is a sturdy hiking boot by Salomon.',  # facts in the description's order are facts
        '"Ridge Boot" has 4780653 ratings.',  # a long number the facts hold is not a phone number
    ],
)
def test_claims_the_facts_hold_pass(text):
    assert validate_copy(text, REQUEST) == text


# ---------------------------------------------------------------------------------------------
# The injection corpus: planted in descriptions, the shopper's interests and (as the user's own
# words) a chat message; zero outputs may carry what the injection asked for.


class ObedientStub(CopyGenerator):
    """The worst model: it writes whatever the planted text says, after a good first sentence."""

    name = "obedient"

    def __init__(self, planted):
        self.planted = planted

    def generate(self, request, *, timeout=None):
        return f'"{request.items[0].title}" is a good pick. {self.planted}'


def planted_requests(payload: str) -> list[CopyRequest]:
    in_description = ItemFacts(ITEM.external_id, ITEM.title, ITEM.category, ITEM.attributes, payload, ITEM.explanation)
    return [
        CopyRequest(items=(in_description, FILM)),
        CopyRequest(items=(ITEM, FILM), profile=payload),
        CopyRequest(items=(ITEM, FILM), profile=f"I asked: {payload}"),  # a chat message kept as their words
    ]


@pytest.mark.parametrize(("payload", "marker"), INJECTIONS, ids=[m for _, m in INJECTIONS])
def test_an_obedient_model_never_shows_an_injection(payload, marker):
    for request in planted_requests(payload):
        copy = service.produce_copy(ObedientStub(payload), request, budget=5)
        assert marker.casefold() not in copy.text.casefold(), (payload, copy.reason)
        assert copy.fell_back or copy.text == f'"{request.items[0].title}" is a good pick.'  # cut-off text dropped


def test_the_grounded_model_never_writes_an_injection(tiny_lm):
    injected = 0
    for payload, marker in INJECTIONS:
        for request in planted_requests(payload):
            text = tiny_lm.generate(request, timeout=60)
            injected += marker.casefold() in text.casefold()
    assert injected == 0
