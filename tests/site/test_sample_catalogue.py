"""The demo catalogue generator (example_site/shop/sample_catalogue.py): no database needed."""

from __future__ import annotations

import ast
import csv
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from example_site.shop.sample_catalogue import (
    DEPARTMENTS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    ITEM_COLUMNS,
    REFERENCE_DATE,
    RELATION_COLUMNS,
    USER_COLUMNS,
    WINDOW_DAYS,
    SampleCatalogue,
    generate_sample_catalogue,
    sample_personas,
    write_sample_catalogue,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def catalogue() -> SampleCatalogue:
    return generate_sample_catalogue()


@pytest.fixture(scope="module")
def personas() -> dict:
    return sample_personas()


@pytest.fixture(scope="module")
def items_by_id(catalogue) -> dict:
    return {item["external_id"]: item for item in catalogue.items}


@pytest.fixture(scope="module")
def events_by_user(catalogue) -> dict:
    by_user = defaultdict(list)
    for event in catalogue.events:
        by_user[event["user_id"]].append(event)
    return by_user


def _dept(item: dict) -> str:
    return item["attributes"]["department"]


def _kind(item: dict) -> str:
    """What a persona's genres/types refer to: a genre for media, else the gear type or category."""
    attrs = item["attributes"]
    return attrs.get("genre") or attrs.get("gear_type") or item["category"]


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_the_same_catalogue(catalogue):
    again = generate_sample_catalogue(7)
    assert again == catalogue
    assert sample_personas(7) == sample_personas(7)


def test_another_seed_gives_another_catalogue(catalogue):
    other = generate_sample_catalogue(8)
    assert other.events != catalogue.events
    assert [i["description"] for i in other.items] != [i["description"] for i in catalogue.items]


def test_default_seed_is_7(catalogue):
    assert generate_sample_catalogue().counts() == generate_sample_catalogue(7).counts() == catalogue.counts()


def test_generator_does_not_import_django():
    root = Path(__file__).resolve().parents[2] / "example_site" / "shop"
    for name in ("sample_catalogue.py", "sample_catalogue_data.py", "sample_catalogue_items.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(alias.name.split(".")[0] == "django" for alias in node.names), name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "django", name
        source = (root / name).read_text(encoding="utf-8")
        assert "random.seed(" not in source and "random.choice(" not in source.replace("rng.choice(", "")


# -- shape and counts --------------------------------------------------------------------------


def test_columns_are_the_importers(catalogue):
    assert all(list(item) == ITEM_COLUMNS for item in catalogue.items)
    assert all(list(user) == USER_COLUMNS for user in catalogue.users)
    assert all(list(rel) == RELATION_COLUMNS for rel in catalogue.relations)
    assert all(list(event) == EVENT_COLUMNS for event in catalogue.events)
    for item in catalogue.items:
        assert isinstance(item["attributes"], dict)
        assert item["title"] and item["description"] and item["category"]
        assert item["image_url"] == ""
        assert isinstance(item["attributes"]["price"], float) and item["attributes"]["price"] > 0


def test_counts(catalogue, personas):
    assert 300 <= len(catalogue.items) <= 340
    per_dept = Counter(_dept(item) for item in catalogue.items)
    assert set(per_dept) == set(DEPARTMENTS)
    assert 85 <= per_dept["films"] <= 95
    assert 75 <= per_dept["books"] <= 85
    assert 75 <= per_dept["outdoor"] <= 85
    assert 65 <= per_dept["home"] <= 75
    assert len(catalogue.users) == 80
    assert 6000 <= len(catalogue.events) <= 10000
    assert len(catalogue.relations) > 1000
    categories = Counter(item["category"] for item in catalogue.items)
    for category in ("films", "books", "running shoes", "hiking boots", "tents", "backpacks", "cookware", "knives"):
        assert categories[category] >= 5, category


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_hold_for_other_seeds(seed):
    catalogue = generate_sample_catalogue(seed)
    assert 300 <= len(catalogue.items) <= 340
    assert 6000 <= len(catalogue.events) <= 10000
    assert len({e["event_id"] for e in catalogue.events}) == len(catalogue.events)


def test_ids_are_unique(catalogue):
    item_ids = [item["external_id"] for item in catalogue.items]
    user_ids = [user["external_id"] for user in catalogue.users]
    event_ids = [event["event_id"] for event in catalogue.events]
    assert len(set(item_ids)) == len(item_ids)
    assert len(set(user_ids)) == len(user_ids)
    assert len(set(event_ids)) == len(event_ids)
    assert all(re.fullmatch(r"demo-\d{6}", event_id) for event_id in event_ids)
    assert all(re.fullmatch(r"(film|book|gear|home)-\d{3}", item_id) for item_id in item_ids)
    assert len({item["title"] for item in catalogue.items}) == len(item_ids)
    edges = [tuple(rel[c] for c in RELATION_COLUMNS[:5]) for rel in catalogue.relations]
    assert len(set(edges)) == len(edges)


def test_events_and_relations_reference_existing_rows(catalogue, items_by_id):
    user_ids = {user["external_id"] for user in catalogue.users}
    for event in catalogue.events:
        assert event["user_id"] in user_ids
        assert event["item_id"] in items_by_id
    known = {"item": set(items_by_id), "user": user_ids}
    for rel in catalogue.relations:
        for side in ("head", "tail"):
            kind, ref = rel[f"{side}_type"], rel[f"{side}_id"]
            assert ref, rel
            if kind in known:
                assert ref in known[kind], rel
        assert 0 < rel["weight"] <= 1.0


def test_events_are_valid(catalogue, items_by_id):
    start = REFERENCE_DATE - timedelta(days=WINDOW_DAYS)
    for event in catalogue.events:
        assert event["event_type"] in EVENT_TYPES
        assert event["device"] in ("desktop", "mobile", "tablet")
        assert event["location"] and not CJK.search(event["location"])
        assert event["timestamp"].endswith("Z")
        when = datetime.fromisoformat(event["timestamp"])
        assert when.utcoffset() == timedelta(0)
        assert start <= when < REFERENCE_DATE
        if event["event_type"] == "rating":
            assert event["value"] in (1.0, 2.0, 3.0, 4.0, 5.0)
            assert _dept(items_by_id[event["item_id"]]) in ("films", "books")
        elif event["event_type"] == "purchase":
            assert event["value"] == items_by_id[event["item_id"]]["attributes"]["price"]
        else:
            assert event["value"] == 1.0
    assert {e["event_type"] for e in catalogue.events} == set(EVENT_TYPES)
    timestamps = [e["timestamp"] for e in catalogue.events]
    assert timestamps == sorted(timestamps)  # ids are handed out in time order


def test_funnel_narrows(catalogue):
    counts = Counter(event["event_type"] for event in catalogue.events)
    assert counts["view"] > counts["click"] > counts["add_to_cart"] > counts["purchase"]
    assert counts["like"] > counts["dislike"] > 0
    assert counts["rating"] > 100


# -- content -----------------------------------------------------------------------------------


def test_chinese_items_and_users_exist(catalogue, items_by_id, personas):
    chinese = [item for item in catalogue.items if CJK.search(item["title"])]
    assert 0.08 <= len(chinese) / len(catalogue.items) <= 0.15
    assert {_dept(item) for item in chinese} == set(DEPARTMENTS)
    for item in chinese:
        assert CJK.search(item["description"])
        assert item["attributes"]["language"] == "zh"
    film = next(item for item in chinese if item["title"] == "星际归途")
    assert film["category"] == "films" and film["attributes"]["genre"] == "science fiction"
    zh_users = [user for user in catalogue.users if CJK.search(user["profile"])]
    assert 5 <= len(zh_users) <= 10
    assert all(personas[user["external_id"]]["lang"] == "zh" for user in zh_users)


def test_descriptions_are_unique_and_well_formed(catalogue):
    descriptions = [item["description"] for item in catalogue.items]
    assert len(set(descriptions)) == len(descriptions)
    for text in descriptions:
        assert "{" not in text and "}" not in text and "  " not in text
        if CJK.search(text):
            assert 2 <= text.count("。") <= 4, text
        else:
            assert 2 <= len(re.split(r"(?<=[.!?]) (?=[A-Z0-9$])", text)) <= 4, text
            assert text[0].isupper() and text.endswith(".")


def test_descriptions_say_what_the_item_is_like(catalogue):
    english = [item for item in catalogue.items if item["attributes"]["language"] == "en"]
    cosy_scifi = [
        item
        for item in english
        if item["category"] == "films"
        and item["attributes"]["genre"] == "science fiction"
        and item["attributes"]["mood"] == "cosy"
    ]
    assert len(cosy_scifi) >= 2
    for item in cosy_scifi:
        assert "cosy" in item["description"] and "science-fiction" in item["description"]
    for item in english:
        attrs = item["attributes"]
        if attrs["department"] == "films":
            mood, genre_word = attrs["mood"], attrs["genre"].split()[0]
            assert mood in item["description"].lower(), item
            assert genre_word in item["description"].lower() or "animated" in item["description"], item
        if attrs["department"] in ("outdoor", "home"):
            assert f"${attrs['price']:.2f}" in item["description"], item
    budget_trail = [i for i in english if i["attributes"].get("gear_type") == "trail_shoe"]
    budget_trail = [i for i in budget_trail if i["attributes"]["price_tier"] == "budget"]
    assert budget_trail
    cheap_words = ("cheap", "budget", "affordable", "inexpensive", "great value", "great-value")
    for item in budget_trail:
        text = item["description"].lower()
        assert "trail" in text and any(word in text for word in cheap_words), item
    cooking_gifts = [i for i in english if "someone who loves cooking" in i["description"]]
    assert len(cooking_gifts) >= 3


def test_attributes_per_department(catalogue):
    needed = {
        "films": {"genre", "year", "director", "runtime_minutes", "mood", "price"},
        "books": {"genre", "author", "pages", "year", "price"},
        "outdoor": {"brand", "price", "color", "weight_grams", "terrain", "price_tier"},
        "home": {"brand", "material", "price", "price_tier"},
    }
    for item in catalogue.items:
        assert needed[_dept(item)] <= set(item["attributes"]), item


def test_knowledge_graph(catalogue, items_by_id):
    relations = Counter(rel["relation"] for rel in catalogue.relations)
    for name in (
        "has_genre",
        "has_brand",
        "directed_by",
        "written_by",
        "in_category",
        "has_mood",
        "similar_to",
        "pairs_with",
        "follows",
    ):
        assert relations[name] > 0, name
    assert relations["in_category"] == len(catalogue.items)
    film = next(i for i in catalogue.items if i["title"] == "星际归途")
    assert {
        "head_type": "item",
        "head_id": film["external_id"],
        "relation": "has_genre",
        "tail_type": "genre",
        "tail_id": "science fiction",
        "weight": 1.0,
    } in catalogue.relations
    for rel in catalogue.relations:
        if rel["relation"] == "similar_to":
            head, tail = items_by_id[rel["head_id"]], items_by_id[rel["tail_id"]]
            assert 0.5 <= rel["weight"] <= 1.0
            assert _dept(head) == _dept(tail) and _kind(head) == _kind(tail)
        if rel["relation"] == "follows":
            assert rel["head_type"] == "user" and rel["tail_type"] in ("person", "brand")
    # Running shoes pair with socks, jackets or vests; some pairs cross departments.
    pairs = [
        (items_by_id[r["head_id"]], items_by_id[r["tail_id"]])
        for r in catalogue.relations
        if r["relation"] == "pairs_with"
    ]
    shoe_pairs = {tail["category"] for head, tail in pairs if head["category"] == "running shoes"}
    assert shoe_pairs & {"running apparel", "rain jackets"}
    assert any(_dept(head) != _dept(tail) for head, tail in pairs)
    # Followed people and brands are ones the catalogue actually has.
    people = {i["attributes"].get("director") for i in catalogue.items} | {
        i["attributes"].get("author") for i in catalogue.items
    }
    brands = {i["attributes"].get("brand") for i in catalogue.items}
    for rel in catalogue.relations:
        if rel["relation"] == "follows":
            assert rel["tail_id"] in (people if rel["tail_type"] == "person" else brands)


# -- users and the signal in their behaviour --------------------------------------------------


def test_cold_users_have_a_profile_but_no_events(catalogue, personas, events_by_user):
    cold = [uid for uid, persona in personas.items() if persona["cold"]]
    assert len(cold) == 5
    for uid in cold:
        assert uid not in events_by_user
    users = {user["external_id"]: user for user in catalogue.users}
    assert all(users[uid]["profile"] for uid in cold)
    active = [uid for uid, persona in personas.items() if not persona["cold"]]
    assert all(len(events_by_user[uid]) >= 20 for uid in active)
    assert set(personas) == set(users)


def test_every_persona_is_dominated_by_its_departments(personas, events_by_user, items_by_id):
    for uid, events in events_by_user.items():
        preferred = set(personas[uid]["departments"])
        inside = sum(_dept(items_by_id[e["item_id"]]) in preferred for e in events)
        assert inside / len(events) >= 0.75, (uid, personas[uid]["key"])


def test_every_persona_mostly_touches_its_genres_and_types(personas, events_by_user, items_by_id):
    for uid, events in events_by_user.items():
        persona = personas[uid]
        liked = set(persona["genres"]) | set(persona["types"])
        positive = [e for e in events if e["event_type"] in ("click", "add_to_cart", "purchase", "like")]
        fit = sum(_kind(items_by_id[e["item_id"]]) in liked for e in positive)
        assert fit / len(positive) >= 0.6, (uid, persona["key"])


def test_ratings_are_higher_for_matching_items(personas, events_by_user, items_by_id):
    matching, other = [], []
    for uid, events in events_by_user.items():
        for event in events:
            if event["event_type"] == "rating":
                genre = items_by_id[event["item_id"]]["attributes"]["genre"]
                (matching if genre in personas[uid]["genres"] else other).append(event["value"])
    assert len(matching) > 100 and len(other) > 15
    assert sum(matching) / len(matching) > sum(other) / len(other) + 1.0


def test_later_events_are_predictable_from_earlier_ones(catalogue, events_by_user, items_by_id):
    """A naive profile (what kinds of item a user touched in the first 70% of their history)
    ranks the items of their last 30% far above chance."""
    kinds_of = {iid: (_dept(item), _kind(item)) for iid, item in items_by_id.items()}
    hits = total = 0
    k = 20
    for events in events_by_user.values():
        split = int(len(events) * 0.7)
        train, test = events[:split], events[split:]
        seen = {e["item_id"] for e in train}
        profile = Counter(kinds_of[e["item_id"]] for e in train)
        candidates = sorted((iid for iid in items_by_id if iid not in seen), key=lambda i: (-profile[kinds_of[i]], i))
        top = set(candidates[:k])
        future = {e["item_id"] for e in test} - seen
        hits += len(future & top)
        total += len(future)
    chance = k / len(items_by_id)
    assert total > 200
    assert hits / total > 3 * chance


def test_profiles_are_predictive_of_behaviour(catalogue, personas, events_by_user, items_by_id):
    """Word overlap between an English profile and an item's text ranks the user's items above chance."""

    def words(text: str) -> set[str]:
        stop = {"and", "the", "a", "of", "for", "to", "in", "with", "i", "my", "who", "on", "is", "it", "that", "but"}
        return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in stop}

    item_words = {
        iid: words(" ".join([i["title"], i["description"], i["category"], str(i["attributes"].get("genre", ""))]))
        for iid, i in items_by_id.items()
    }
    profiles = {user["external_id"]: user["profile"] for user in catalogue.users}
    better = compared = 0
    for uid, events in events_by_user.items():
        if personas[uid]["lang"] != "en":
            continue
        profile = words(profiles[uid])
        touched = {e["item_id"] for e in events if e["event_type"] in ("click", "purchase", "like")}
        if not touched:
            continue
        scores = {iid: len(profile & w) for iid, w in item_words.items()}
        mean_touched = sum(scores[i] for i in touched) / len(touched)
        mean_all = sum(scores.values()) / len(scores)
        better += mean_touched > mean_all
        compared += 1
    assert compared >= 60
    assert better / compared >= 0.85


# -- files -------------------------------------------------------------------------------------


def test_write_sample_catalogue(tmp_path, catalogue):
    paths = write_sample_catalogue(tmp_path / "demo", seed=7)
    assert set(paths) == {"items", "users", "relations", "events"}
    assert [p.name for p in paths.values()] == ["items.jsonl", "users.jsonl", "relations.jsonl", "events.csv"]

    def read_jsonl(path: Path) -> list[dict]:
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    items = read_jsonl(paths["items"])
    assert items == catalogue.items
    assert all(isinstance(item["attributes"], dict) for item in items)
    assert "星际归途" in paths["items"].read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    assert read_jsonl(paths["users"]) == catalogue.users
    assert read_jsonl(paths["relations"]) == catalogue.relations

    with paths["events"].open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == EVENT_COLUMNS
        rows = list(reader)
    assert len(rows) == len(catalogue.events)
    for row, event in zip(rows, catalogue.events, strict=True):
        assert row["event_id"] == event["event_id"]
        assert float(row["value"]) == event["value"]
        assert row["timestamp"] == event["timestamp"]
        datetime.fromisoformat(row["timestamp"])

    again = write_sample_catalogue(tmp_path / "again", seed=7)
    for name, path in paths.items():
        assert path.read_bytes() == again[name].read_bytes(), name


def test_the_demos_events_can_end_now(tmp_path, catalogue):
    """The demo writes the events moved to end at the hour it runs: the sample's last week is
    this week, every gap between events stays as it was."""
    ending = datetime(2031, 5, 17, 14, 42, tzinfo=UTC)
    paths = write_sample_catalogue(tmp_path / "now", seed=7, ending=ending)
    with paths["events"].open(encoding="utf-8", newline="") as fh:
        moved = [datetime.fromisoformat(row["timestamp"]) for row in csv.DictReader(fh)]
    original = [datetime.fromisoformat(event["timestamp"]) for event in catalogue.events]
    shift = ending.replace(minute=0) - REFERENCE_DATE
    assert all(after - before == shift for before, after in zip(original, moved, strict=True))
    assert max(moved) <= ending and ending - max(moved) < timedelta(days=2)
