"""The user tower recipe saved with a fine-tuned encoder (no database)."""

import json

import pytest

from llmrec_django.ml.encoders.user_tower import USER_TOWER_FILE, UserTower, read_user_tower, write_user_tower


def test_titles_recipe_uses_the_last_items_oldest_first():
    tower = UserTower(history_items=2)
    text = tower.text("Likes films", ["space opera"], ["Alien", "Heat", "Ran"], ["a", "h", "r"])
    assert text == "Likes films. Recently searched: space opera. Recently liked: Heat; Ran."
    assert tower.text("", [], [], []) == ""


def test_item_texts_recipe_lists_full_texts_newest_first():
    tower = UserTower(history_items=2, anchor="item_texts")
    assert tower.text("Likes films", [], ["A", "B", "C"], ["Alien text.", "Heat text.", "Ran text."]) == (
        "Likes films. Ran text. Heat text."
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"history_items": 0}, "history_items"),
        ({"history_items": 3, "anchor": "both"}, "anchor must be one of"),
        ({"history_items": 3, "text_weight": -1.0}, "text_weight"),
        ({"history_items": 3, "text_weight": float("nan")}, "text_weight"),
    ],
)
def test_a_bad_recipe_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        UserTower(**fields)


def test_the_recipe_round_trips_and_follows_changes(tmp_path):
    assert read_user_tower(tmp_path) is None and read_user_tower(None) is None
    write_user_tower(tmp_path, UserTower(history_items=4, anchor="item_texts", text_weight=2.5))
    assert read_user_tower(tmp_path) == UserTower(4, "item_texts", 2.5)
    (tmp_path / USER_TOWER_FILE).write_text(json.dumps({"history_items": 7}))
    assert read_user_tower(tmp_path) == UserTower(7, "titles", 1.0)


def test_an_unreadable_recipe_names_its_file(tmp_path):
    (tmp_path / USER_TOWER_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=USER_TOWER_FILE):
        read_user_tower(tmp_path)


def test_a_history_tower_weighs_the_newest_items_and_refuses_weights_that_do_not_fit(tmp_path):
    tower = UserTower(3, "history", text_weight=0.5, position_weights=(0.1, 0.3, 0.6))
    assert tower.weighs_history and not UserTower(3).weighs_history
    assert tower.history_weights(3) == [0.1, 0.3, 0.6]
    assert tower.history_weights(2) == [0.3, 0.6] and tower.history_weights(9) == [0.1, 0.3, 0.6]
    assert tower.history_weights(0) == [] and UserTower(3, "history").history_weights(2) == [1.0, 1.0]
    # Its text is only what the user or site stated: the items are weighed, not written.
    assert tower.text("Quiet films", [], ["Alien"], ["Alien. A film."]) == "Quiet films."
    write_user_tower(tmp_path, tower)
    assert read_user_tower(tmp_path) == tower
    for fields, message in (
        (dict(position_weights=(0.5, 0.5)), "one weight per history item"),
        (dict(position_weights=(0.5, -0.1, 0.6)), ">= 0"),
        (dict(position_weights=(0.0, 0.0, 0.0)), "not all 0"),
        (dict(position_weights=(0.2, float("nan"), 0.6)), "finite"),
    ):
        with pytest.raises(ValueError, match=message):
            UserTower(3, "history", **fields)
    with pytest.raises(ValueError, match="anchor 'history' only"):
        UserTower(3, "titles", position_weights=(0.1, 0.3, 0.6))
