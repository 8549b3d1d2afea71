"""Requests understood against a catalogue's own schema: learned kinds and values, hard
constraints, negations, relative terms, context, conversation turns; on two catalogues with
different schemas, in English and Chinese."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec_django.core.attribute_schema import learn_schema
from llmrec_django.core.intent import Constraint, Intent, merge_intents, parse_intent


def shop_rows():
    films = [
        ("films", {"genre": g, "mood": m, "year": y, "age_rating": r, "price": p})
        for g, m, y, r, p in [
            ("comedy", "funny", 2022, "PG", 4.5), ("horror", "dark", 2019, "18", 3.5), ("animation", "whimsical", 2024, "U", 5.0),
            ("thriller", "tense", 1998, "15", 2.0), ("comedy", "uplifting", 1995, "12", 3.0), ("horror", "tense", 2024, "15", 6.0),
            ("drama", "melancholic", 2010, "12", 2.5), ("animation", "funny", 2021, "PG", 4.0),
        ]
    ]  # fmt: skip
    gear = [
        ("tents", {"capacity_persons": c, "waterproof": w, "price": p, "season": s})
        for c, w, p, s in [(1, True, 120.0, "3-season"), (2, True, 260.0, "3-season"), (3, False, 90.0, "4-season"),
                           (2, True, 410.0, "4-season")]
    ]  # fmt: skip
    return films + gear


DECLARED = {
    "categories": {"films": ["movie", "movies", "电影"], "tents": ["帐篷"]},
    "attributes": {"price": {"names": ["price"], "units": ["$", "dollars", "元"]}},
    "values": {"horror": ["scary", "恐怖片", "恐怖"], "comedy": ["喜剧"], "animation": ["animated", "动画"]},
}


@pytest.fixture(scope="module")
def shop():
    rows = shop_rows()
    return learn_schema(sorted({c for c, _ in rows}), rows, DECLARED)


@pytest.fixture(scope="module")
def books():
    """A second catalogue with another schema (goodbooks-like): nothing declared."""
    rows = [
        ("books", {"authors": [a], "original_publication_year": y, "average_rating": r, "pages": n, "language_code": "eng"})
        for a, y, r, n in [("Jane Austen", 1813, 4.3, 432), ("Ann Leckie", 2013, 4.0, 386), ("Ann Leckie", 2014, 4.1, 359),
                           ("Liu Cixin", 2008, 4.1, 400), ("Jane Austen", 1811, 4.1, 409), ("Kazuo Ishiguro", 2005, 3.8, 288)]
    ]  # fmt: skip
    return learn_schema(["books"], rows)


def constraints(intent: Intent) -> set[tuple]:
    return {(c.attribute, c.op, tuple(c.value) if isinstance(c.value, list) else c.value) for c in intent.constraints}


def test_the_schema_is_learned_from_the_items(shop, books):
    assert shop.attributes["genre"].kind == "enum" and "horror" in shop.attributes["genre"].values
    assert shop.attributes["year"].kind == "number" and shop.attributes["year"].is_year()
    assert shop.attributes["waterproof"].kind == "boolean"
    assert shop.attributes["price"].by_category["tents"][0] == 90.0  # tents' own price range
    assert books.attributes["authors"].kind == "enum" and books.attributes["authors"].multi
    assert books.attributes["original_publication_year"].is_year()
    assert books.attributes["pages"].kind == "number"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a scary movie", {("category", "in", ("films",)), ("genre", "in", ("horror",))}),
        ("films, nothing scary", {("category", "in", ("films",)), ("genre", "not_in", ("horror",))}),
        ("不要恐怖片，要喜剧电影", {("genre", "not_in", ("horror",)), ("genre", "in", ("comedy",)), ("category", "in", ("films",))}),
        ("a waterproof tent for 2 people under $300",
         {("category", "in", ("tents",)), ("waterproof", "is", True), ("capacity_persons", ">=", 2.0), ("price", "<", 300.0)}),
        ("tents between 100 and 300 dollars", {("category", "in", ("tents",)), ("price", ">=", 100.0), ("price", "<=", 300.0)}),
        ("films from the 90s", {("category", "in", ("films",)), ("year", ">=", 1990.0), ("year", "<=", 1999.0)}),
        ("an animated film for my 8-year-old", {("category", "in", ("films",)), ("genre", "in", ("animation",)),
                                                ("age_rating", "in", ("PG", "U"))}),
        ("300元以下的帐篷", {("category", "in", ("tents",)), ("price", "<=", 300.0)}),
        ("a tent that is not waterproof", {("category", "in", ("tents",)), ("waterproof", "is", False)}),
    ],
)  # fmt: skip
def test_hard_constraints_are_read(shop, text, expected):
    assert constraints(parse_intent(text, shop)) == expected


def test_relative_terms_use_the_catalogues_own_figures(shop):
    cheap = parse_intent("a cheap tent", shop)
    [price] = [c for c in cheap.constraints if c.attribute == "price"]
    assert price.op == "<=" and 90 < price.value < 260 and price.relative  # tents' bottom third, not films'
    assert price.describe().startswith("cheap (price at most")
    recent = parse_intent("something recent", shop)
    assert constraints(recent) == {("year", ">=", 2019.0)}  # the newest year, 2024, less 5
    shown = [{"price": 4.5}, {"price": 5.0}, {"price": 6.0}]
    cheaper = parse_intent("cheaper than these", shop, shown=shown)
    assert constraints(cheaper) == {("price", "<", 5.0)}


def test_a_second_catalogue_with_another_schema_works_unchanged(books):
    intent = parse_intent("books by Ann Leckie published after 2010 over 350 pages", books)
    assert constraints(intent) == {
        ("category", "in", ("books",)), ("authors", "in", ("Ann Leckie",)),
        ("original_publication_year", ">", 2010.0), ("pages", ">", 350.0),
    }  # fmt: skip
    older = parse_intent("books before 1900, not by Jane Austen", books)
    assert ("original_publication_year", "<", 1900.0) in constraints(older)
    assert ("authors", "not_in", ("Jane Austen",)) in constraints(older)


def test_context_words_become_context_and_the_rest_is_soft(shop):
    intent = parse_intent("something calming for a rainy Sunday, nothing scary", shop)
    assert dict(intent.context) == {"weather": "rain", "occasion": "weekend", "mood": "calm"}
    assert "scary" not in intent.soft_text and "calming" in intent.soft_text
    assert parse_intent("a film for tonight", shop).context["time_of_day"] == "evening"


def test_constraints_hold_on_items(shop):
    intent = parse_intent("films after 2015, no horror", shop)
    assert intent.holds({"genre": "comedy", "year": 2022}, "films")
    assert not intent.holds({"genre": "horror", "year": 2022}, "films")
    assert not intent.holds({"genre": "comedy", "year": "2022"}, "films")  # text is not a number
    assert Constraint("genres", "in", ["Fantasy"]).holds({"genres": ["fantasy", "epic"]})  # lists, any case
    assert sorted(intent.satisfied({"genre": "comedy", "year": 2022}, "films")) == [
        "films",
        "not horror",
        "year over 2015",
    ]


def test_a_conversation_keeps_replaces_and_drops_constraints(shop):
    first = parse_intent("a scary movie after 2015", shop)
    kids = merge_intents(first, parse_intent("actually for the kids too, something animated", shop), shop)
    assert ("category", "in", ("films",)) in constraints(kids)  # kept from the first turn
    assert ("genre", "in", ("animation",)) in constraints(kids) and ("genre", "in", ("horror",)) not in constraints(
        kids
    )
    assert ("age_rating", "in", ("PG", "U")) in constraints(kids)
    assert {c.source for c in kids.constraints if c.attribute == "category"} == {"turn"}
    anything = merge_intents(kids, parse_intent("any year is fine", shop), shop)
    assert not [c for c in anything.constraints if c.attribute == "year"]


SHOWN = st.lists(
    st.dictionaries(st.sampled_from(["price", "year", "genre"]), st.one_of(st.floats(), st.text(), st.none()))
)


@given(st.text(max_size=300), SHOWN, st.booleans())
def test_any_text_gives_an_intent_whose_constraints_name_the_catalogue(text, shown, with_price):
    rows = [(c, {k: v for k, v in a.items() if with_price or k != "price"}) for c, a in shop_rows()]
    schema = learn_schema(sorted({c for c, _ in rows}), rows, DECLARED)
    intent = parse_intent(text, schema, shown=shown)
    for constraint in intent.constraints:
        assert constraint.attribute == "category" or constraint.attribute in schema.attributes
        assert constraint.op in {"in", "not_in", "<=", ">=", "<", ">", "is"}
    assert isinstance(intent.soft_text, str) and isinstance(intent.to_dict(), dict)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("romantic movies but not from before 2010", ("year", ">=", 2010.0)),
        ("a film, nothing older than 2015", ("year", ">=", 2015.0)),
        ("films older than 2000", ("year", "<", 2000.0)),
        ("a PG film", ("age_rating", "in", ("PG",))),
        ("films rated 15", ("age_rating", "in", ("15",))),
    ],
)
def test_negated_comparisons_short_values_and_values_after_their_name(shop, text, expected):
    assert expected in constraints(parse_intent(text, shop))


def test_a_film_under_15_dollars_is_a_price_not_a_rating(shop):
    assert constraints(parse_intent("a film under $15", shop)) == {("category", "in", ("films",)), ("price", "<", 15.0)}


def test_names_with_many_values_are_matched_whole_and_numbers_go_to_the_plausible_attribute():
    authors = [f"Author {chr(65 + n // 26)}{chr(97 + n % 26)} Smith" for n in range(300)]
    rows = [("books", {"authors": [a], "year": 1990 + n % 30, "pages": 150 + n}) for n, a in enumerate(authors)]
    schema = learn_schema(["books"], rows)
    assert schema.attributes["authors"].open
    intent = parse_intent("books by Author Bc Smith after 2010 over 350 pages", schema)
    assert constraints(intent) == {
        ("category", "in", ("books",)), ("authors", "in", ("Author Bc Smith",)), ("year", ">", 2010.0), ("pages", ">", 350.0),
    }  # fmt: skip


def test_the_longest_name_wins_and_a_word_may_mean_several_values():
    rows = [("books", {"format": f}) for f in ("ebook", "paperback", "ebook")] + [("films", {"format": "dvd"})]
    declared = {
        "categories": {"books": ["书"]},
        "values": {"ebook": ["电子书"], "paperback": ["print"], "dvd": ["print"]},
    }
    schema = learn_schema(["books", "films"], rows, declared)
    assert constraints(parse_intent("电子书", schema)) == {("format", "in", ("ebook",))}
    [printed] = [c for c in parse_intent("something in print", schema).constraints]
    assert sorted(printed.value) == ["dvd", "paperback"]
