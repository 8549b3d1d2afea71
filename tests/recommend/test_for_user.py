"""The recommend service for a user: candidate sources, cos x R scoring, filters, MMR, fallback."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from llmrec_django.catalogue import collaborative
from llmrec_django.database import caches as caching
from llmrec_django.database import serving_data
from llmrec_django.models import Interaction, UserProfile
from llmrec_django.recommend import RecommendationList, UnknownUser, recommend_for_user, similar_items
from tests.recommend_helpers import activate, link, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    """Alice bought "Lantern Ship" (science fiction). Her vector points at it."""
    items = {
        "ship": make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        "harbour": make_item(tenant, "harbour", "Star Harbour", vector=[0.95, 0.3, 0, 0]),
        "field": make_item(tenant, "field", "Quiet Field", vector=[0.8, 0.6, 0, 0]),
        "orbit": make_item(tenant, "orbit", "Slow Orbit", vector=[0.7, 0.71, 0, 0]),
        "shoe": make_item(tenant, "shoe", "Mud Runner", category="running shoes", vector=[0.2, 0, 1, 0], price=40),
        "boot": make_item(tenant, "boot", "Ridge Boot", category="hiking boots", vector=[0.1, 0, 0, 1], price=150),
    }
    alice = UserProfile.objects.create(tenant=tenant, external_id="alice")
    Interaction.objects.create(
        tenant=tenant, event_id="a1", user=alice, item=items["ship"], event_type="purchase", timestamp=timezone.now()
    )
    link(tenant, items["ship"], "has_genre", "genre", "science fiction")
    version = activate(tenant, list(items.values()), users=[(alice, [1, 0, 0, 0])])
    return items, alice, version


def titles(result: RecommendationList) -> list[str]:
    return [r.title for r in result.items]


def test_the_closest_unbought_item_comes_first_and_the_bought_one_never(world):
    items, alice, version = world
    result = recommend_for_user("alice", k=3)
    assert result.source == "hybrid" and result.version_id == version.pk
    assert titles(result)[0] == "Star Harbour"  # cosine 0.95, and Alice already owns "Lantern Ship"
    assert "Lantern Ship" not in titles(result)
    assert "vector" in result.items[0].sources
    assert result.items[0].explanation == 'Similar to "Lantern Ship" you bought'


def test_a_knowledge_graph_path_raises_a_less_similar_item(world, tenant):
    items, alice, _ = world
    # "Slow Orbit" (cosine 0.70) shares Alice's genre; "Quiet Field" (cosine 0.80) does not.
    link(tenant, items["orbit"], "has_genre", "genre", "science fiction")
    result = recommend_for_user("alice", k=5, mmr_lambda=1.0)
    order = titles(result)
    assert order.index("Slow Orbit") < order.index("Quiet Field"), "cos x R: 0.70 x 1.76 > 0.80 x 1"
    orbit = next(r for r in result.items if r.title == "Slow Orbit")
    assert "kg" in orbit.sources
    assert orbit.explanation == 'Because you bought "Lantern Ship" (same genre: science fiction)'


def test_category_and_attribute_filters(world):
    result = recommend_for_user("alice", k=5, category="running shoes")
    assert titles(result) == ["Mud Runner"]
    result = recommend_for_user("alice", k=5, attributes={"price": 150})
    assert titles(result) == ["Ridge Boot"]


def test_inactive_items_are_never_recommended(world):
    items, _, _ = world
    items["harbour"].is_active = False
    items["harbour"].save()
    assert "Star Harbour" not in titles(recommend_for_user("alice", k=10))


def test_consumed_items_are_excluded_per_event_type(world, tenant, settings):
    items, alice, _ = world
    Interaction.objects.create(
        tenant=tenant, event_id="a2", user=alice, item=items["harbour"], event_type="view",
        timestamp=timezone.now() - timezone.timedelta(days=2),
    )  # fmt: skip
    assert "Star Harbour" in titles(recommend_for_user("alice", k=10)), "a view is not a consumption by default"
    settings.LLMREC = {"EXCLUDE_CONSUMED_EVENT_TYPES": ["purchase", "view"]}
    assert "Star Harbour" not in titles(recommend_for_user("alice", k=10))
    assert "Lantern Ship" in titles(recommend_for_user("alice", k=10, exclude_consumed=False))


def test_mmr_trades_relevance_for_variety(world, tenant):
    items, alice, version = world
    # Two near-duplicates of Alice's taste: without diversity both lead the list.
    from llmrec_django.database import vectorstore
    from tests.recommend_helpers import unit

    twin = make_item(tenant, "twin", "Star Harbour II", vector=[0.95, 0.3, 0.001, 0])
    vectorstore.write_item_vectors(version, [twin.pk], unit([0.95, 0.3, 0.001, 0])[None, :], ["h"])
    relevant = titles(recommend_for_user("alice", k=3, mmr_lambda=1.0))
    diverse = titles(recommend_for_user("alice", k=3, mmr_lambda=0.3))
    assert set(relevant[:2]) == {"Star Harbour", "Star Harbour II"}
    assert diverse != relevant
    assert not {"Star Harbour", "Star Harbour II"} <= set(diverse[:2])


def test_k_is_clamped_and_must_be_positive(world, settings):
    settings.LLMREC = {"MAX_K": 2}
    assert recommend_for_user("alice", k=50).k == 2
    with pytest.raises(ValueError):
        recommend_for_user("alice", k=0)


def test_an_unknown_user_is_a_lookup_error(world):
    with pytest.raises(LookupError):
        recommend_for_user("nobody")
    with pytest.raises(UnknownUser):
        recommend_for_user("nobody")


def test_no_active_version_falls_back_to_popularity(tenant):
    items = [make_item(tenant, f"i{n}", f"Item {n}") for n in range(3)]
    bob = UserProfile.objects.create(tenant=tenant, external_id="bob")
    carol = UserProfile.objects.create(tenant=tenant, external_id="carol")
    for n in range(3):
        Interaction.objects.create(tenant=tenant, event_id=f"c{n}", user=carol, item=items[2], event_type="click")
    result = recommend_for_user("bob", k=2)
    assert result.source == "fallback:popularity"
    assert "no active embedding version" in result.reason
    # One user's clicks: the item leads (nothing else has any), but it is not "popular this week".
    assert result.items[0].title == "Item 2" and result.items[0].explanation == "Getting attention lately"
    assert len(result.items) == 2, "newest items fill the list"
    assert bob.pk


def test_a_user_without_a_vector_gets_popularity(world, tenant):
    UserProfile.objects.create(tenant=tenant, external_id="newcomer")
    result = recommend_for_user("newcomer", k=3)
    assert result.source == "fallback:popularity"
    assert "interest vector" in result.reason
    assert result.items[0].title == "Lantern Ship", "Alice's purchase makes it the trending item"


def test_a_failing_vector_query_falls_back(world, monkeypatch):
    from llmrec_django.database import vectorstore

    search_sql = vectorstore._search_sql
    # An error raised by the server, in the middle of the round trip; the popularity list is then
    # read in the same (test) transaction, which the failure must have left usable.
    monkeypatch.setattr(vectorstore, "_search_sql", lambda *args, **kwargs: search_sql(*args, **kwargs) + " OFFSET 1/0")
    result = recommend_for_user("alice", k=3)
    assert result.source == "fallback:popularity" and "vector search failed" in result.reason
    assert result.items  # read after the failure


def test_no_other_tenants_item_ever_appears(world, other_tenant):
    theirs = [make_item(other_tenant, f"t{n}", f"Their {n}", vector=[1, 0.01 * n, 0, 0]) for n in range(5)]
    other_user = UserProfile.objects.create(tenant=other_tenant, external_id="alice")
    Interaction.objects.create(tenant=other_tenant, event_id="o1", user=other_user, item=theirs[0], event_type="like")
    activate(other_tenant, theirs, users=[(other_user, [1, 0, 0, 0])])
    result = recommend_for_user("alice", k=20)
    assert not any(t.startswith("Their") for t in titles(result))
    other = recommend_for_user("alice", tenant=other_tenant, k=20)
    assert all(t.startswith("Their") for t in titles(other))


def test_collaborative_candidates_come_from_the_stored_model(world, tenant):
    items, alice, _ = world
    # Three other users bought both "Lantern Ship" and "Ridge Boot": CF proposes the boot to Alice.
    for n in range(3):
        u = UserProfile.objects.create(tenant=tenant, external_id=f"fan{n}")
        for key in ("ship", "boot"):
            Interaction.objects.create(
                tenant=tenant, event_id=f"f{n}{key}", user=u, item=items[key], event_type="purchase"
            )
    collaborative.fit_collaborative_model(tenant, factors=4, iterations=20)
    result = recommend_for_user("alice", k=6)
    boot = next(r for r in result.items if r.title == "Ridge Boot")
    assert "collaborative" in boot.sources
    assert "item_knn" in boot.sources, "co-bought with the ship Alice bought"


def test_the_fitted_blend_is_stored_and_used(world, tenant):
    from llmrec_django.learning.blend import fit_ranking_model
    from llmrec_django.models import RankingModel

    items, _, _ = world
    # Users who watch sci-fi then the harbour: enough held-out positives to learn from.
    for n in range(8):
        u = UserProfile.objects.create(tenant=tenant, external_id=f"viewer{n}")
        start = timezone.now() - timezone.timedelta(days=2)
        for step, key in enumerate(("ship", "field", "harbour")):
            Interaction.objects.create(
                tenant=tenant, event_id=f"v{n}{key}", user=u, item=items[key], event_type="click",
                timestamp=start + timezone.timedelta(hours=step + n),
            )  # fmt: skip
    record = fit_ranking_model(tenant)
    assert RankingModel.objects.filter(tenant=tenant).count() == 1
    assert record.feature_names == [
        "relevance", "collaborative", "item_knn", "popularity", "cold_relevance", "closest_liked", "sequential",
        "transition",
    ]  # fmt: skip
    assert len(record.weights) == 8 and record.metrics["choice"]
    assert recommend_for_user("alice", k=3).ranking_model_id == record.pk
    # A blend fitted on fewer features (an older release) serves, the missing ones weighing 0.
    model = dict(record.model, feature_names=["relevance", "collaborative", "popularity"])
    model.update(weights=model["weights"][:3], mean=model["mean"][:3], scale=model["scale"][:3])
    RankingModel.objects.filter(pk=record.pk).update(model=model)
    assert recommend_for_user("alice", k=3).ranking_model_id == record.pk
    # One fitted on a feature the service no longer computes is not applied.
    model = dict(model, feature_names=["relevance", "collaborative", "retired"])
    RankingModel.objects.filter(pk=record.pk).update(model=model)
    assert recommend_for_user("alice", k=3).ranking_model_id is None


def test_closest_liked_matches_a_candidate_on_one_liked_item_the_interest_vector_blurs(tenant):
    from llmrec_django.core.strategy import Strategy

    items = {
        "ship": make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        "harbour": make_item(tenant, "harbour", "Star Harbour", vector=[0.95, 0.3, 0, 0]),
        "boot": make_item(tenant, "boot", "Ridge Boot", vector=[0.1, 0, 0, 1]),
        "trail": make_item(tenant, "trail", "Trail Boot", vector=[0.05, 0, 0, 1]),
    }
    bob = UserProfile.objects.create(tenant=tenant, external_id="bob")
    for key in ("boot", "ship"):
        Interaction.objects.create(
            tenant=tenant, event_id=f"b-{key}", user=bob, item=items[key], event_type="purchase",
            timestamp=timezone.now(),
        )  # fmt: skip
    activate(tenant, list(items.values()), users=[(bob, [1, 0, 0, 0])])  # his vector: all ship
    # By relevance, the harbour (cos .95 to his vector) beats the trail boot (.05) ...
    assert titles(recommend_for_user("bob", k=2, mmr_lambda=1.0)) == ["Star Harbour", "Trail Boot"]
    # ... by closeness to a liked item, the trail boot (cos .999 to the boot) beats the harbour (.95 to the ship).
    closest = Strategy.from_dict({"blend_weights": {"closest_liked": 1.0}, "mmr_lambda": 1.0})
    result = recommend_for_user("bob", k=2, strategy=closest)
    assert titles(result) == ["Trail Boot", "Star Harbour"]
    assert all(0 < r.score < 1 for r in result.items), "a strategy's weighted features go through the sigmoid"


def test_similar_items_share_vectors_and_graph(world, tenant):
    items, _, _ = world
    link(tenant, items["orbit"], "has_genre", "genre", "science fiction")
    result = similar_items("ship", k=3)
    assert result.source == "similar"
    assert "Lantern Ship" not in titles(result)
    # The shared genre lifts "Slow Orbit" (0.70 x 1.76) above the closer "Star Harbour" (0.95).
    assert titles(result)[:2] == ["Slow Orbit", "Star Harbour"]
    orbit = result.items[0]
    assert orbit.explanation == 'Same genre as "Lantern Ship": science fiction'
    with pytest.raises(LookupError):
        similar_items("nope")


@pytest.mark.django_db(transaction=True)
def test_stale_popularity_keeps_serving_while_a_thread_refreshes_it(tenant, settings):
    item = make_item(tenant, "hit", "A Hit")
    fan = UserProfile.objects.create(tenant=tenant, external_id="fan")
    assert serving_data.popularity(tenant.pk) == {}
    Interaction.objects.create(tenant=tenant, event_id="h1", user=fan, item=item, event_type="purchase")
    assert serving_data.popularity(tenant.pk) == {}, "fresh enough: served from the cache without a query"
    settings.LLMREC = {"POPULARITY_CACHE_SECONDS": 0}
    assert serving_data.popularity(tenant.pk) == {}, "stale: still served at once, a thread recomputes it"
    caching.wait_for_refreshes()
    settings.LLMREC = {"POPULARITY_CACHE_SECONDS": 60}
    assert serving_data.popularity(tenant.pk) == {item.pk: 1.0}


def test_one_event_dated_in_the_future_does_not_take_popularity_over(tenant):
    """Popularity decays from now when the newest event is later: a view stored with a date in
    the future (before such events were refused) counts as one new view, not as the only one."""
    from datetime import datetime, timedelta

    from django.utils import timezone

    hits = [make_item(tenant, f"hit-{n}", f"Hit {n}") for n in range(3)]
    odd = make_item(tenant, "odd", "Odd One")
    now = timezone.now()
    for n, item in enumerate(hits):
        for u in range(5):
            fan = UserProfile.objects.get_or_create(tenant=tenant, external_id=f"fan-{u}")[0]
            Interaction.objects.create(
                tenant=tenant, event_id=f"h{n}-{u}", user=fan, item=item, event_type="view",
                timestamp=now - timedelta(hours=n + 1),
            )  # fmt: skip
    stray = UserProfile.objects.create(tenant=tenant, external_id="stray")
    Interaction.objects.create(
        tenant=tenant, event_id="far", user=stray, item=odd, event_type="view",
        timestamp=datetime(9999, 12, 31, tzinfo=timezone.get_current_timezone()) - timedelta(days=1),
    )  # fmt: skip
    scores = serving_data.popularity(tenant.pk)
    assert list(scores)[:3] == [item.pk for item in hits], "the week's real views lead"
    assert scores[odd.pk] < 0.5


def test_popularity_counts_each_user_once_per_item(tenant):
    """Fifty views of one item by one visitor weigh less than three visitors' views of another."""
    from datetime import timedelta

    from django.utils import timezone

    spammed, liked = make_item(tenant, "spammed", "Spammed"), make_item(tenant, "liked", "Liked")
    now = timezone.now()
    spammer = UserProfile.objects.create(tenant=tenant, external_id="spammer")
    for n in range(50):
        Interaction.objects.create(
            tenant=tenant, event_id=f"s{n}", user=spammer, item=spammed, event_type="view",
            timestamp=now - timedelta(minutes=n),
        )  # fmt: skip
    for u in range(3):
        fan = UserProfile.objects.create(tenant=tenant, external_id=f"fan-{u}")
        Interaction.objects.create(
            tenant=tenant, event_id="v", user=fan, item=liked, event_type="view", timestamp=now - timedelta(hours=1)
        )
    scores = serving_data.popularity(tenant.pk)
    assert list(scores) == [liked.pk, spammed.pk] and scores[spammed.pk] < 0.5


def test_a_new_item_gets_the_last_place_when_nothing_new_made_the_list(world, tenant, settings):
    items, alice, version = world
    # Fans bought everything but the shoe: the collaborative model has never seen it, a new item.
    for n in range(3):
        u = UserProfile.objects.create(tenant=tenant, external_id=f"fan{n}")
        for key in ("ship", "harbour", "field", "orbit", "boot"):
            Interaction.objects.create(
                tenant=tenant, event_id=f"f{n}{key}", user=u, item=items[key], event_type="purchase"
            )
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=10)
    # cos(shoe, ship) = 0.196: below the default floor of similarity to what Alice liked ...
    assert not any("new_item" in r.sources for r in recommend_for_user("alice", k=3, mmr_lambda=1.0).items)
    settings.LLMREC = {"NEW_ITEM_MIN_SIMILARITY": 0.15}  # ... above this one
    result = recommend_for_user("alice", k=3, mmr_lambda=1.0)
    new = [r for r in result.items if "new_item" in r.sources]
    assert [r.title for r in result.items] == ["Star Harbour", "Quiet Field", "Mud Runner"]
    assert [r.title for r in new] == ["Mud Runner"], "the last place goes to the new item"
    assert new[0].explanation == 'New here, and close to "Lantern Ship" you bought'
    settings.LLMREC = {"NEW_ITEM_SLOTS": 0, "NEW_ITEM_MIN_SIMILARITY": 0.15}
    assert not any("new_item" in r.sources for r in recommend_for_user("alice", k=3, mmr_lambda=1.0).items)


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a request: the serving snapshot is kept
def test_a_warm_list_reads_its_data_in_four_round_trips(world, tenant, settings):
    _, alice, _ = world
    settings.LLMREC = {**settings.LLMREC, "SERVING_STATE_SECONDS": 60}
    recommend_for_user(alice, tenant=tenant, k=3)  # warms the serving snapshot and popularity
    with CaptureQueriesContext(connection) as queries:
        result = recommend_for_user(alice, tenant=tenant, k=3)
    assert result.source == "hybrid"
    # history + user vector; liked vectors + KG edges; vector search + KG candidates; candidates
    assert len(queries) == 4, [query["sql"][:60] for query in queries]


@pytest.fixture
def shelf(tenant):
    """Alice bought "Lantern Ship" and then "Green Meadow"; her interest vector is their mean.
    Six items near that mean were bought by three fans (the collaborative model knows them);
    two items nobody touched yet are close to "Green Meadow" alone, far from the mean."""
    liked = {
        "ship": make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        "meadow": make_item(tenant, "meadow", "Green Meadow", vector=[0, 1, 0, 0]),
    }
    known = {f"mid{n}": make_item(tenant, f"mid{n}", f"Middle {n}", vector=[1, 1, 0.1 * n, 0]) for n in range(6)}
    fresh = {
        # Mean cosine to the (two) liked items: .52, and .51 for the item added last.
        "older": make_item(tenant, "older", "Meadow Song", vector=[0.1, 1, 0, 0.3]),
        "newer": make_item(tenant, "newer", "Meadow Dance", vector=[0.2, 1, 0, 0.6]),
    }
    alice = UserProfile.objects.create(tenant=tenant, external_id="alice")
    for n, key in enumerate(liked):
        Interaction.objects.create(
            tenant=tenant, event_id=f"a{n}", user=alice, item=liked[key], event_type="purchase",
            timestamp=timezone.now() - timezone.timedelta(days=2 - n),
        )  # fmt: skip
    for n in range(3):
        fan = UserProfile.objects.create(tenant=tenant, external_id=f"fan{n}")
        for key, item in {**liked, **known}.items():
            Interaction.objects.create(tenant=tenant, event_id=f"f{n}{key}", user=fan, item=item, event_type="purchase")
    activate(tenant, [*liked.values(), *known.values(), *fresh.values()], users=[(alice, [1, 1, 0, 0])])
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=10)
    return {**liked, **known, **fresh}, alice


def placed_new(result: RecommendationList) -> list[str]:
    return [r.title for r in result.items if "new_item" in r.sources]


# Vector search proposes only the two items nearest Alice's mean taste (known ones), and the
# floor lets a new item that close to one liked item in.
SHELF = {"CANDIDATES_PER_SOURCE": 2, "NEW_ITEM_MIN_SIMILARITY": 0.5}


def test_the_new_item_place_searches_every_new_item_not_only_the_other_sources_candidates(shelf, settings):
    # No other source proposes a new item; the pool of new items finds the closest one.
    settings.LLMREC = SHELF
    result = recommend_for_user("alice", k=3, mmr_lambda=1.0)
    assert placed_new(result) == ["Meadow Song"] and result.items[-1].title == "Meadow Song"
    assert result.items[-1].sources == ("new_items", "new_item")
    assert result.items[-1].explanation == 'New here, and close to "Green Meadow" you bought'
    settings.LLMREC = {**SHELF, "NEW_ITEM_MIN_SIMILARITY": 0.55}
    assert placed_new(recommend_for_user("alice", k=3, mmr_lambda=1.0)) == [], "not close enough"
    settings.LLMREC = {**SHELF, "NEW_ITEM_SLOTS": 0}
    assert placed_new(recommend_for_user("alice", k=3, mmr_lambda=1.0)) == []


def test_the_new_item_pool_holds_the_newest_new_items(shelf, settings):
    settings.LLMREC = {**SHELF, "NEW_ITEM_POOL_SIZE": 1}
    assert placed_new(recommend_for_user("alice", k=3, mmr_lambda=1.0)) == ["Meadow Dance"], "only the newest"


def test_an_arm_without_the_new_items_source_finds_no_new_item_beyond_its_own_candidates(shelf, settings):
    from llmrec_django.core.strategy import Strategy

    settings.LLMREC = SHELF
    arm = Strategy.from_dict({"sources": ["vector", "collaborative", "item_knn", "kg", "popularity"]}, name="old")
    assert placed_new(recommend_for_user("alice", k=3, mmr_lambda=1.0, strategy=arm)) == []


def test_a_new_item_the_user_consumed_or_that_the_model_learnt_about_is_not_proposed(shelf, tenant, settings):
    items, alice = shelf
    settings.LLMREC = SHELF
    Interaction.objects.create(tenant=tenant, event_id="a9", user=alice, item=items["older"], event_type="purchase")
    assert placed_new(recommend_for_user("alice", k=3, mmr_lambda=1.0)) == ["Meadow Dance"], "bought: consumed"
    # Once people bought "Meadow Dance" and the model is refitted, it is no longer new: the pool
    # is read again for the new model at once.
    for n in range(3):
        Interaction.objects.create(
            tenant=tenant, event_id=f"f{n}-newer", user=UserProfile.objects.get(external_id=f"fan{n}"),
            item=items["newer"], event_type="purchase",
        )  # fmt: skip
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=10)
    assert placed_new(recommend_for_user("alice", k=3, mmr_lambda=1.0)) == []


def test_what_the_user_just_viewed_or_put_in_the_cart_is_left_out_for_a_while(world, tenant, settings):
    """Just viewed (an hour ago) or in the cart: not news, left out; viewed three days ago may
    return, and a site that wants such items back at once says so (0 seconds)."""
    items, alice, _ = world
    now = timezone.now()
    for n, (key, event_type, age) in enumerate(
        [("harbour", "view", timezone.timedelta(hours=1)), ("field", "add_to_cart", timezone.timedelta(days=2)),
         ("orbit", "view", timezone.timedelta(days=3))]
    ):  # fmt: skip
        Interaction.objects.create(
            tenant=tenant, event_id=f"r{n}", user=alice, item=items[key], event_type=event_type, timestamp=now - age
        )
    shown = titles(recommend_for_user("alice", k=5))
    assert "Star Harbour" not in shown and "Quiet Field" not in shown
    assert "Slow Orbit" in shown
    settings.LLMREC = {**settings.LLMREC, "EXCLUDE_RECENT_EVENTS": {"view": 0, "add_to_cart": 0}}
    caching.clear_all()
    assert {"Star Harbour", "Quiet Field"} <= set(titles(recommend_for_user("alice", k=5)))


def test_an_item_is_never_explained_by_itself(world, tenant):
    """Alice looked at "Star Harbour" days ago; it may come back, but never "Similar to
    'Star Harbour' you looked at" on Star Harbour itself."""
    items, alice, _ = world
    Interaction.objects.create(
        tenant=tenant, event_id="v1", user=alice, item=items["harbour"], event_type="view",
        timestamp=timezone.now() - timezone.timedelta(days=3),
    )  # fmt: skip
    link(tenant, items["harbour"], "has_genre", "genre", "science fiction")
    result = recommend_for_user("alice", k=5)
    assert "Star Harbour" in titles(result)
    for item in result.items:
        assert f'"{item.title}"' not in item.explanation, (item.title, item.explanation)


def test_popular_needs_evidence_from_enough_users_this_week_by_the_servers_clock(tenant):
    """A visitor's three fresh views do not outrank what three shoppers bought this week, nor
    what many bought weeks ago; each list item says which kind of popular it is."""
    now = timezone.now()
    items = {key: make_item(tenant, key, key) for key in ("boot-a", "boot-b", "week", "old")}
    visitor = UserProfile.objects.create(tenant=tenant, external_id="visitor")
    for n, key in enumerate(("boot-a", "boot-b", "boot-a")):
        Interaction.objects.create(tenant=tenant, event_id=f"v{n}", user=visitor, item=items[key], event_type="view")

    def shoppers(key: str, count: int, age: timezone.timedelta) -> None:
        for n in range(count):
            user = UserProfile.objects.create(tenant=tenant, external_id=f"{key}-{n}")
            Interaction.objects.create(
                tenant=tenant, event_id="p", user=user, item=items[key], event_type="purchase", timestamp=now - age
            )

    shoppers("week", 3, timezone.timedelta(days=2))
    shoppers("old", 8, timezone.timedelta(days=30))
    popular = serving_data.popularity(tenant.pk)
    assert list(popular) == [items[k].pk for k in ("week", "old", "boot-a", "boot-b")]
    result = recommend_for_user(UserProfile.objects.create(tenant=tenant, external_id="new"), k=4)
    assert [(r.title, r.explanation) for r in result.items] == [
        ("week", "Popular this week"), ("old", "Popular with shoppers"),
        ("boot-a", "Getting attention lately"), ("boot-b", "Getting attention lately"),
    ]  # fmt: skip
