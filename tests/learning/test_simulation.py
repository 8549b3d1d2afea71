"""Simulated users: what they know and say (understood by the service's own parser), how they
react to a list, and a simulated evaluation that leaves the tenant as it was."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from llmrec_django.core.attribute_schema import learn_schema
from llmrec_django.core.intent import parse_intent
from llmrec_django.core.user_simulation import Fact, SimulatedUser, goal_for
from llmrec_django.learning.simulation import simulate_conversations
from llmrec_django.models import ConversationSession, Interaction, ServedList, UserProfile
from tests.recommend.test_search_intent import FILMS, films  # noqa: F401 - the fixture

ROWS = [("films", attrs) for _, _, _, attrs in FILMS] + [
    ("tents", {"price": p, "waterproof": w, "capacity": c})
    for p, w, c in [(80, True, 2), (150, True, 3), (40, False, 1)]
]


def schema():
    return learn_schema(["films", "tents"], ROWS, {})


def test_the_goal_holds_the_category_first_then_broad_facts_before_narrow_ones():
    goal = goal_for(
        "h1", "films", {"genre": "horror", "year": 2023, "age_rating": "18"}, schema(), entities=["Ann Lee"]
    )
    assert goal.facts[0] == Fact("category", "category", "films", 1.0)
    kinds = [f.kind for f in goal.facts]
    assert "value" in kinds and "after" in kinds and kinds[-1] == "related"
    rarities = [f.rarity for f in goal.facts[1:-1]]
    assert rarities == sorted(rarities)  # the name they remember comes last
    assert Fact("after", "year", 2021, 0.4) in goal.facts


@pytest.mark.parametrize("seed", range(6))
def test_what_a_simulated_user_says_is_understood_by_the_parser(seed):
    """Each fact, in each phrasing, parses back into a constraint on its attribute that the
    target satisfies (the simulator speaks the catalogue's words, not the parser's)."""
    s = schema()
    cases = [
        ("h1", "films", {"genre": "horror", "year": 2023, "age_rating": "18"}),
        ("t2", "tents", {"price": 150, "waterproof": True, "capacity": 3}),
    ]
    for target, category, attributes in cases:
        goal = goal_for(target, category, attributes, s)
        user = SimulatedUser(goal, seed=seed)
        for fact in goal.facts:
            text = fact.phrase(user._rng)
            intent = parse_intent(text, s)
            named = {"category" if c.attribute == "category" else c.attribute for c in intent.constraints}
            assert fact.attribute in named, (text, intent.constraints)
            assert len(intent.satisfied(attributes, category)) == len(intent.constraints), (text, intent.constraints)


def test_a_simulated_user_accepts_the_target_and_otherwise_asks_for_what_is_missing():
    goal = goal_for("h1", "films", {"genre": "horror", "year": 2023, "age_rating": "18"}, schema())
    user = SimulatedUser(goal, seed=1)
    opening = user.opening()
    assert "films" in opening
    comedies = [("c1", "films", {"genre": "comedy", "year": 2024}), ("c2", "films", {"genre": "comedy", "year": 1994})]
    reaction = user.react(comedies)
    assert not reaction.accepted and reaction.message and "lacks" in reaction.reason
    assert user.react([*comedies, ("h1", "films", {"genre": "horror"})]).accepted
    for _ in range(10):  # once everything is said, a generic request, never an error
        reaction = user.react(comedies)
    assert reaction.message == "show me something else"


@pytest.mark.django_db
def test_a_simulated_evaluation_compares_policies_and_leaves_the_tenant_as_it_was(films, tenant, capsys):  # noqa: F811
    by_key = {item.external_id: item for item in films}
    for n, (first, second) in enumerate([("c1", "h1"), ("c2", "a1"), ("t1", "h2"), ("d1", "c1")]):
        profile = UserProfile.objects.create(tenant=tenant, external_id=f"u{n}")
        for hours, key in enumerate((first, second)):
            Interaction.objects.create(
                tenant=tenant, user=profile, item=by_key[key], event_id=f"e{n}-{key}", event_type="like",
                timestamp=f"2026-01-0{hours + 1}T00:00:00Z",
            )  # fmt: skip
    events = Interaction.objects.count()
    report = simulate_conversations(tenant, users=4, turns=4, k=2, seed=0)
    assert report["users"] == 4 and set(report["policies"]) == {"conversation", "search", "for_you", "popular"}
    conversation = report["policies"]["conversation"]
    assert (
        conversation["successes"] >= 2 and conversation["success_rate"] >= report["policies"]["popular"]["success_rate"]
    )
    assert all(0 <= p["success_rate"] <= 1 for p in report["policies"].values())
    transcript = conversation["transcripts"][0]
    assert transcript["turns"][0]["user"] and transcript["target"] in by_key
    assert Interaction.objects.count() == events  # rolled back: targets back in the history
    assert not ConversationSession.objects.exists() and not ServedList.objects.exists()

    call_command("llmrec_evaluate", "--simulate", "2", "--turns", "2", "--k", "3")
    out = capsys.readouterr().out
    assert "2 simulated users" in out and "conversation" in out and "popular" in out
    with pytest.raises(ValueError, match="at least 1"):
        simulate_conversations(tenant, users=0)
