"""Natural-language search: parsed constraints, the query's vector, the user's taste, fallbacks."""

import pytest

from llmrec_django.catalogue import embedding
from llmrec_django.core.query_parsing import parse_query
from llmrec_django.database import caches
from llmrec_django.models import Item, UserProfile
from llmrec_django.recommend import search

CATEGORIES = ["films", "books", "running shoes", "hiking boots"]


@pytest.mark.parametrize(
    ("text", "max_price", "cheap", "category"),
    [
        ("cheap trail running shoes", None, True, "running shoes"),
        ("running shoes under $50", 50.0, False, "running shoes"),
        ("boots below 120", 120.0, False, "hiking boots"),
        ("推荐给我一些好看的电影", None, False, "films"),
        ("便宜的跑鞋 300元以下", 300.0, True, "running shoes"),
        ("a cosy sci-fi movie for tonight", None, False, "films"),
        ("something nice", None, False, None),
    ],
)
def test_constraints_read_from_the_query(text, max_price, cheap, category):
    parsed = parse_query(text, CATEGORIES)
    assert (parsed.max_price, parsed.cheap, parsed.category) == (max_price, cheap, category)


def test_only_the_tenants_own_categories_are_recognised():
    assert parse_query("a good movie", ["books"]).category is None


@pytest.fixture
def shop(tenant, tiny_encoder):
    caches.clear_all()
    rows = [
        ("f1", "星际归途", "一部温暖的科幻电影，讲述宇航员回家的故事。", "films", {}),
        ("f2", "Starlight Voyage", "A cosy science fiction film about a lighthouse on Mars.", "films", {}),
        ("s1", "Mud and Glory", "Trail running shoe with deep lugs for muddy hills.", "running shoes", {"price": 45}),
        ("s2", "Summit Pro", "Premium trail running shoe, carbon plate.", "running shoes", {"price": 180}),
        ("s3", "Daily Trainer", "Road running shoe for everyday miles.", "running shoes", {"price": 90}),
        ("b1", "Ridge Boot", "Waterproof hiking boot.", "hiking boots", {"price": 150}),
    ]
    items = {x: Item.objects.create(tenant=tenant, external_id=x, title=t, description=d, category=c, attributes=a)
             for x, t, d, c, a in rows}  # fmt: skip
    UserProfile.objects.create(tenant=tenant, external_id="ann", profile_text="I run muddy trails")
    embedding.build_version_in_process(tenant, concurrently=False)
    return items


@pytest.mark.django_db(transaction=True)
def test_a_chinese_film_query_returns_only_films(shop):
    result = search("推荐给我一些好看的电影", k=5)
    assert result.source == "search"
    assert result.query.category == "films"
    assert {r.external_id for r in result.items} == {"f1", "f2"}
    assert result.items[0].explanation == "films: as you asked"


@pytest.mark.django_db(transaction=True)
def test_a_price_ceiling_and_cheap_are_filters(shop):
    assert [r.external_id for r in search("running shoes under $100", k=5).items] != []
    assert {r.external_id for r in search("running shoes under $100", k=5).items} == {"s1", "s3"}
    cheap = search("cheap trail running shoes", k=5)
    assert [r.external_id for r in cheap.items] == ["s1"], "cheap = the bottom price tercile of the category"
    assert "cheap" in cheap.items[0].explanation


@pytest.mark.django_db(transaction=True)
def test_a_users_query_is_remembered(shop, settings):
    settings.LLMREC = {**settings.LLMREC, "RECENT_QUERIES_KEPT": 2}
    for query in ("boots", "running shoes", "films"):
        search(query, user="ann", k=2)
    assert UserProfile.objects.get(external_id="ann").recent_queries == ["running shoes", "films"]
    with pytest.raises(LookupError):
        search("films", user="nobody")


@pytest.mark.django_db(transaction=True)
def test_a_broken_encoder_falls_back_to_popularity_within_the_constraints(shop, monkeypatch):
    def broken(version):
        raise RuntimeError("model file is gone")

    monkeypatch.setattr(embedding, "encoder_for", broken)
    result = search("running shoes under $100", k=5)
    assert result.source == "fallback:popularity" and "encoder failed" in result.reason
    assert {r.external_id for r in result.items} == {"s1", "s3"}


@pytest.mark.django_db
def test_search_without_any_version_falls_back(tenant):
    caches.clear_all()
    Item.objects.create(tenant=tenant, external_id="x", title="A film", category="films")
    result = search("movie", k=3)
    assert result.source == "fallback:popularity" and "no active embedding version" in result.reason
    assert [r.external_id for r in result.items] == ["x"]
    with pytest.raises(ValueError):
        search("   ")
