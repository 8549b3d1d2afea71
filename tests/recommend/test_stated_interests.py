"""A new user's own words shape their very first list, across every interest they named."""

import pytest
from django.utils import timezone

from llmrec_django.models import Interaction, UserProfile, UserVector
from llmrec_django.recommend import recommend_for_user
from tests.api_helpers import keyword_encoder_settings
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db

# Keyword encoder axes (tests/api_helpers.KEYWORD_AXES): space 0, funny 1, war 2, running 3.
SPACE = [("s1", "Space Ship One"), ("s2", "Star Ship Two"), ("s3", "Space Star Three"), ("s4", "Ship of Stars")]
FUNNY = [("f1", "Funny Picnic"), ("f2", "A Light Comedy"), ("f3", "Gentle Funny Tales")]
RUNNING = [("r1", "Trail Running Shoe"), ("r2", "Running Socks")]
WAR = [(f"w{n}", f"Dark War {n}") for n in range(8)]  # what everyone else buys


@pytest.fixture
def shop(tenant, settings):
    keyword_encoder_settings(settings)
    vectors = {"s": [1, 0.05, 0, 0], "f": [0.05, 1, 0, 0], "r": [0, 0.05, 0, 1], "w": [0, 0, 1, 0.05]}
    items = {key: make_item(tenant, key, title, vector=vectors[key[0]]) for key, title in SPACE + FUNNY + RUNNING + WAR}
    for n in range(6):  # war films are what is popular
        buyer = UserProfile.objects.create(tenant=tenant, external_id=f"buyer-{n}")
        for m in range(3):
            Interaction.objects.create(
                tenant=tenant, event_id=f"b{n}{m}", user=buyer, item=items[f"w{(n + m) % 8}"], event_type="purchase",
                timestamp=timezone.now() - timezone.timedelta(days=1),
            )  # fmt: skip
    version = activate(tenant, list(items.values()))
    return items, version


def signed_up(tenant, text: str) -> UserProfile:
    return UserProfile.objects.create(
        tenant=tenant, external_id="newbie", profile_text=text, profile_text_source=UserProfile.TextSource.USER
    )


def axes(result) -> list[str]:
    return [item.external_id[0] for item in result.items]


def test_the_first_list_after_sign_up_holds_every_interest_named(shop, tenant):
    newbie = signed_up(tenant, "space ships, funny films, and trail running")
    assert not UserVector.objects.filter(user=newbie).exists()  # the refresh is still queued
    result = recommend_for_user(newbie, k=6)
    assert result.source == "hybrid"  # not "popular": the vector was made for this list
    assert UserVector.objects.filter(user=newbie).exists()
    assert axes(result)[:3] == ["s", "f", "r"]  # each interest's best match in turn
    assert sorted(axes(result)) == ["f", "f", "r", "r", "s", "s"] and "w" not in axes(result)
    assert result.items[0].explanation == 'Matches "space ships" from your interests'
    assert result.items[2].explanation == 'Matches "trail running" from your interests'


def test_chinese_interests_are_split_too(shop, tenant):
    newbie = signed_up(tenant, "我喜欢 space ships、funny films 和 running")
    assert set(axes(recommend_for_user(newbie, k=3))) == {"s", "f", "r"}


def test_once_the_user_has_liked_enough_their_behaviour_leads(shop, tenant, settings):
    items, _ = shop
    newbie = signed_up(tenant, "space ships, funny films, and trail running")
    for n, key in enumerate(["s1", "s2", "s3", "s4", "f1"]):
        Interaction.objects.create(
            tenant=tenant, event_id=f"n{n}", user=newbie, item=items[key], event_type="like",
            timestamp=timezone.now() - timezone.timedelta(days=3),
        )  # fmt: skip
    result = recommend_for_user(newbie, k=4)
    assert not any("from your interests" in item.explanation for item in result.items)
    settings.LLMREC = {**settings.LLMREC, "STATED_INTERESTS_LEAD_UNTIL_LIKED": 10}
    assert "from your interests" in recommend_for_user(newbie, k=4).items[0].explanation


def test_one_interest_or_a_generated_text_changes_nothing(shop, tenant):
    single = signed_up(tenant, "trail running")
    result = recommend_for_user(single, k=2)
    assert axes(result) == ["r", "r"] and "from your interests" not in result.items[0].explanation
    single.profile_text, single.profile_text_source = "space ships, funny films", UserProfile.TextSource.GENERATED
    single.save()
    assert "from your interests" not in recommend_for_user(single, k=2).items[0].explanation
