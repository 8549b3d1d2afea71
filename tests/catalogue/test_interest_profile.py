"""The interest profile service: the text written from behaviour and the knowledge graph, who
wrote it, regeneration where vectors are computed, edits and resets, personalisation off."""

import re
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from llmrec_django.catalogue import embedding, events, interest_profile
from llmrec_django.database import caches, vectorstore
from llmrec_django.models import Interaction, UserProfile, UserVector
from llmrec_django.recommend import recommend_for_user, search
from llmrec_django.recommend.lists import PERSONALISATION_OFF
from tests.api_helpers import KeywordEncoder
from tests.recommend_helpers import activate, link, make_item

pytestmark = pytest.mark.django_db


class WordsEncoder(KeywordEncoder):
    """The keyword encoder, blind to punctuation, so a generated sentence's words count."""

    def encode(self, texts, **kwargs):
        return super().encode([re.sub(r"[^\w\s-]", " ", text) for text in texts], **kwargs)


@pytest.fixture(autouse=True)
def words_encoder(settings):
    from llmrec_django.conf import backends

    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "ENCODER": {"BACKEND": "tests.catalogue.test_interest_profile.WordsEncoder", "OPTIONS": {"path": "/hand-made"}},
        "EMBEDDING_DIMENSION": 4,
    }
    backends.reset()
    caches.clear_all()
    yield
    caches.clear_all()


@pytest.fixture
def shop(tenant):
    """Films, outdoor gear and kitchenware in the knowledge graph; Cleo liked Nolan's science
    fiction and drama and Salomon gear, disliked two horror films and two Acme pieces (one
    dislike alone is not yet a taste), and searched twice."""
    items = {
        "ship": make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        "winter": make_item(tenant, "winter", "Long Winter", vector=[0.6, 0.8, 0, 0]),
        "cellar": make_item(tenant, "cellar", "Night Cellar", vector=[0, 0, 1, 0]),
        "shoe": make_item(tenant, "shoe", "Mud Runner", category="outdoor gear", vector=[0, 0, 0, 1]),
        "kettle": make_item(tenant, "kettle", "Copper Kettle", category="kitchen", vector=[0, 0.5, 0.5, 0]),
        "crypt": make_item(tenant, "crypt", "Crypt Hour", vector=[0, 0.1, 1, 0]),
        "pan": make_item(tenant, "pan", "Steel Pan", category="kitchen", vector=[0, 0.4, 0.6, 0]),
    }
    for key, genre, director in [
        ("ship", "science fiction", "Christopher Nolan"),
        ("winter", "drama", "Christopher Nolan"),
        ("cellar", "horror", "Wes Crane"),
        ("crypt", "horror", "Ada Stone"),
    ]:
        link(tenant, items[key], "has_genre", "genre", genre)
        link(tenant, items[key], "directed_by", "person", director)
    link(tenant, items["shoe"], "has_brand", "brand", "Salomon")
    link(tenant, items["kettle"], "has_brand", "brand", "Acme")
    link(tenant, items["pan"], "has_brand", "brand", "Acme")
    cleo = UserProfile.objects.create(tenant=tenant, external_id="cleo", recent_queries=["rain jacket", "trail shoes"])
    now = timezone.now()
    for n, (key, event_type) in enumerate(
        [
            ("ship", "purchase"),
            ("winter", "like"),
            ("shoe", "purchase"),
            ("cellar", "dislike"),
            ("kettle", "dislike"),
            ("crypt", "dislike"),
            ("pan", "dislike"),
        ]
    ):
        Interaction.objects.create(
            tenant=tenant, event_id=f"c{n}", user=cleo, item=items[key], event_type=event_type, timestamp=now
        )
    version = activate(tenant, list(items.values()))
    return items, cleo, version


def likes_and_dislikes(text: str) -> tuple[str, str]:
    likes, _, dislikes = text.partition("Not interested in:")
    return likes, dislikes


def test_the_text_names_liked_entities_and_categories_searches_and_dislikes_apart(shop):
    _, cleo, _ = shop
    text = interest_profile.generated_text(cleo)
    likes, dislikes = likes_and_dislikes(text)
    for name in ["films", "Christopher Nolan", "science fiction", "drama", "outdoor gear", "Salomon"]:
        assert name in likes, name
    assert '"trail shoes", "rain jacket"' in likes  # newest search first
    assert "horror" in dislikes and "Acme" in dislikes
    for name in ["horror", "Wes Crane", "Acme", "kitchen"]:
        assert name not in likes, name
    assert len(text) <= interest_profile.profile_settings()["MAX_CHARS"]


def test_old_events_weigh_less(shop, tenant):
    items, cleo, _ = shop
    Interaction.objects.filter(user=cleo, item=items["shoe"]).update(timestamp=timezone.now() - timedelta(days=600))
    assert "Salomon" not in interest_profile.generated_text(cleo)  # 2^-10 of the films' weight


def test_the_vector_build_writes_a_generated_text_and_embeds_it(shop, tenant):
    _, cleo, version = shop
    quinn = UserProfile.objects.create(tenant=tenant, external_id="quinn", recent_queries=["trail running"])
    assert embedding.compute_user_vectors(version, [cleo.pk, quinn.pk]) == 2
    cleo.refresh_from_db()
    assert cleo.profile_text == interest_profile.generated_text(cleo)
    assert cleo.profile_text_source == "generated" and cleo.profile_generated_at is not None
    quinn.refresh_from_db()
    assert quinn.profile_text == 'Recently searched for "trail running".'
    # Quinn has no events: her vector is her text's, which points along the running axis.
    assert np.argmax(vectorstore.user_vector(version, quinn.pk)) == 3


def test_the_users_own_words_survive_regeneration_and_feed_the_vector(shop, django_capture_on_commit_callbacks):
    _, cleo, version = shop
    embedding.compute_user_vectors(version, [cleo.pk])
    learned = vectorstore.user_vector(version, cleo.pk)
    with django_capture_on_commit_callbacks(execute=True):  # the edit refreshes the vector
        cleo = interest_profile.update(cleo, text="  war films, dark and violent  ")
    assert (cleo.profile_text, cleo.profile_text_source) == ("war films, dark and violent", "user")
    assert vectorstore.user_vector(version, cleo.pk)[2] > learned[2] + 0.15  # the "violent" axis
    embedding.compute_user_vectors(version, [cleo.pk])
    cleo.refresh_from_db()
    assert cleo.profile_text == "war films, dark and violent"


def test_reset_goes_back_to_what_was_learned(shop):
    _, cleo, _ = shop
    cleo = interest_profile.update(cleo, text="tea")
    cleo = interest_profile.update(cleo, reset=True)
    assert cleo.profile_text_source == "generated" and "Christopher Nolan" in cleo.profile_text
    cleo.refresh_from_db()
    assert cleo.profile_text == interest_profile.generated_text(cleo)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"text": "x" * 1001}, "at most 1000"),
        ({"text": "a\x00b"}, "NUL"),
        ({"text": "tea", "reset": True}, "not both"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(shop, changes, message):
    _, cleo, _ = shop
    before = (cleo.profile_text, cleo.profile_text_source)
    with pytest.raises(ValueError, match=message):
        interest_profile.update(cleo, **changes)
    cleo.refresh_from_db()
    assert (cleo.profile_text, cleo.profile_text_source) == before


def test_a_text_written_by_the_site_is_kept_and_an_empty_one_is_generated(shop, tenant):
    _, cleo, version = shop
    assert cleo.profile_text_source == "site"  # created by code outside the service, with no text yet
    dora = UserProfile.objects.create(tenant=tenant, external_id="dora", profile_text="Given by the shop")
    embedding.compute_user_vectors(version, [cleo.pk, dora.pk])
    cleo.refresh_from_db()
    dora.refresh_from_db()
    assert (dora.profile_text, dora.profile_text_source) == ("Given by the shop", "site")
    assert cleo.profile_text_source == "generated" and "Christopher Nolan" in cleo.profile_text
    assert interest_profile.describe(dora).profile_text_source == "site"


def test_without_generation_only_written_texts_feed_vectors(shop, settings):
    _, cleo, version = shop
    settings.LLMREC = {**settings.LLMREC, "INTEREST_PROFILE": {"GENERATE": False}}
    embedding.compute_user_vectors(version, [cleo.pk])
    cleo.refresh_from_db()
    assert cleo.profile_text == "" and interest_profile.generated_text(cleo) == ""


def test_personalisation_off_serves_popularity_and_keeps_no_vector(shop, tenant, django_capture_on_commit_callbacks):
    items, cleo, version = shop
    embedding.compute_user_vectors(version, [cleo.pk])
    assert recommend_for_user("cleo", k=3).source == "hybrid"
    with django_capture_on_commit_callbacks(execute=True):
        interest_profile.update(cleo, personalisation_enabled=False)
    assert not UserVector.objects.filter(user=cleo).exists()
    result = recommend_for_user("cleo", k=3)
    assert result.source == "fallback:popularity" and result.reason == PERSONALISATION_OFF
    # Events are still stored, but no vector is computed from them while it is off.
    with django_capture_on_commit_callbacks(execute=True):
        events.ingest_events([{"event_id": "c9", "user_id": "cleo", "item_id": "ship", "event_type": "view"}], tenant)
    assert Interaction.objects.filter(user=cleo).count() == 8
    assert embedding.compute_user_vectors(version, [cleo.pk]) == 0
    assert not UserVector.objects.filter(user=cleo).exists()
    with django_capture_on_commit_callbacks(execute=True):
        interest_profile.update(cleo, personalisation_enabled=True)
    assert UserVector.objects.filter(user=cleo, version=version).exists()
    assert recommend_for_user("cleo", k=3).source == "hybrid"


def test_search_ignores_the_taste_of_a_user_who_turned_personalisation_off(shop, tenant):
    _, cleo, version = shop
    vectorstore.write_user_vectors(version, [cleo.pk], np.array([[0, 0, 0, 1.0]]), [1])  # running shoes
    anonymous = [(r.external_id, round(r.score, 5)) for r in search("space ship", k=5).items]
    personalised = [(r.external_id, round(r.score, 5)) for r in search("space ship", user="cleo", k=5).items]
    assert personalised != anonymous
    cleo.refresh_from_db()
    assert cleo.recent_queries[-1] == "space ship"
    interest_profile.update(cleo, personalisation_enabled=False)
    assert [(r.external_id, round(r.score, 5)) for r in search("lantern", user="cleo", k=5).items] == [
        (r.external_id, round(r.score, 5)) for r in search("lantern", k=5).items
    ]
    cleo.refresh_from_db()
    assert "lantern" not in cleo.recent_queries


def test_refresh_rewrites_a_generated_text_on_demand(shop, tenant):
    items, cleo, _ = shop
    interest_profile.refresh(cleo)
    assert "Salomon" in cleo.profile_text
    Interaction.objects.filter(user=cleo, item=items["shoe"]).delete()
    cleo = interest_profile.refresh(cleo)
    assert "Salomon" not in cleo.profile_text and "Christopher Nolan" in cleo.profile_text
