"""The interest summary in plain words: grounded in the user's items, likes apart from dislikes,
deterministic and bounded."""

from llmrec_django.core.interest_summary import EntityEdge, ItemFacts, summarise_interests


def film(title, genre, director, mood=None):
    edges = [EntityEdge("has_genre", "genre", genre), EntityEdge("directed_by", "person", director)]
    edges.append(EntityEdge("in_category", "category", "films"))
    if mood:
        edges.append(EntityEdge("has_mood", "mood", mood, 0.7))
    return ItemFacts(title, "films", tuple(edges))


ITEMS = {
    1: film("Lantern Ship", "science fiction", "Christopher Nolan", "dark"),
    2: film("Long Winter", "drama", "Christopher Nolan"),
    3: film("Night Cellar", "horror", "Wes Crane", "dark"),
    4: ItemFacts("Mud Runner", "outdoor gear", (EntityEdge("has_brand", "brand", "Salomon"),)),
    5: ItemFacts("Rain Shell", "outdoor gear", (EntityEdge("has_brand", "brand", "Salomon"),)),
    6: ItemFacts("Copper Kettle", "kitchen", (EntityEdge("has_brand", "brand", "Acme"),)),
    7: ItemFacts("Plain Mug", "", ()),
    8: film("Crypt Hour", "horror", "Ada Stone", "dark"),
    9: ItemFacts("Steel Pan", "kitchen", (EntityEdge("has_brand", "brand", "Acme"),)),
}


def test_likes_by_category_with_their_entities_searches_and_dislikes():
    weights = {1: 3.0, 2: 2.0, 4: 3.0, 5: 0.5, 3: -2.0, 8: -2.0, 6: -2.0, 9: -2.0}
    text = summarise_interests(weights, ITEMS, ["rain jacket", "trail shoes"])
    assert text == (  # films: 3 + 2 liked; outdoor gear 3 + 0.5; two dark horror films and two Acme pans disliked
        "Likes films (directed by: Christopher Nolan; genre: science fiction, drama). "
        "Likes outdoor gear (brand: Salomon). "
        'Recently searched for "trail shoes", "rain jacket". '
        "Not interested in: Acme, horror, kitchen."
    )


def test_one_dislike_is_not_yet_a_taste():
    """A single "not for me" says nothing about the item's genre, director or category."""
    text = summarise_interests({1: 3.0, 4: 3.0, 3: -2.0, 6: -2.0}, ITEMS)
    assert "Not interested in" not in text and "horror" not in text and "Wes Crane" not in text


def test_an_entity_the_user_mostly_dislikes_is_never_a_like():
    weights = {1: 1.0, 3: -2.0, 8: -2.0}  # "dark" is a mood of a liked film and of two disliked ones
    text = summarise_interests(weights, ITEMS)
    likes, dislikes = text.split("Not interested in:")
    assert "science fiction" in likes and "dark" not in likes and "horror" not in likes
    assert "horror" in dislikes and "dark" in dislikes


def test_a_category_without_entities_names_the_best_titles():
    assert summarise_interests({7: 1.0, 1: 0.1}, ITEMS).startswith("Likes items such as Plain Mug.")


def test_nothing_known_gives_an_empty_text_and_minor_interests_are_left_out():
    assert summarise_interests({}, ITEMS) == ""
    assert summarise_interests({99: 1.0}, ITEMS) == ""  # an unknown item says nothing
    text = summarise_interests({1: 5.0, 4: 0.5}, ITEMS)  # outdoor gear: a tenth of films
    assert "films" in text and "outdoor gear" not in text


def test_the_same_inputs_give_the_same_text_within_the_limit():
    weights = {1: 3.0, 2: 2.0, 4: 3.0, 5: 0.5, 3: -2.0, 6: -2.0}
    queries = [f"query number {n} " + "x" * 80 for n in range(6)]
    texts = {
        summarise_interests(dict(reversed(list(weights.items()))), ITEMS, queries, max_chars=150) for _ in range(3)
    }
    assert len(texts) == 1
    [text] = texts
    assert len(text) <= 150 and text.endswith("Likes outdoor gear (brand: Salomon).")
    short = summarise_interests(weights, ITEMS, max_chars=30)
    assert len(short) <= 30 and short.endswith("…")
