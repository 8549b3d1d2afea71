"""Conversations through the API: start, message, feedback; the query vector's moves."""

import numpy as np
import pytest
from django.utils import timezone

from llmrec_django.models import ConversationSession, ConversationTurn, Interaction
from llmrec_django.recommend import Recommendation
from llmrec_django.recommend.conversations import conversation_reply
from tests.api_helpers import API, account, api_key_client, keyword_encoder_settings, logged_in, profile_of
from tests.recommend_helpers import activate, make_item, unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def films(tenant, settings):
    """Axes: 0 science fiction, 1 light, 2 violent. Ann likes science fiction."""
    keyword_encoder_settings(settings)
    items = {
        "dark-star": make_item(tenant, "dark-star", "Dark Star War", vector=[1, 0, 0.9, 0]),
        "iron-moon": make_item(tenant, "iron-moon", "Iron Moon", vector=[1, 0, 0.7, 0]),
        "orbit": make_item(tenant, "orbit", "Slow Orbit", vector=[1, 0.1, 0.3, 0]),
        "comet": make_item(tenant, "comet", "Comet Picnic", vector=[0.8, 0.9, 0, 0]),
        "moon-pie": make_item(tenant, "moon-pie", "Moon Pie", vector=[0.6, 1, 0, 0]),
        "meadow": make_item(tenant, "meadow", "Meadow Song", vector=[0.1, 1, 0, 0]),
    }
    ann = account("ann")
    profile = profile_of(tenant, ann, "ann")
    Interaction.objects.create(tenant=tenant, event_id="seed", user=profile, item=items["dark-star"],
                               event_type="purchase", timestamp=timezone.now())  # fmt: skip
    version = activate(tenant, list(items.values()), users=[(profile, [1, 0, 0.6, 0])])
    return items, ann, profile, version


def shown(response):
    return [i["external_id"] for i in response.json()["recommendations"]["items"]]


def test_start_then_message_then_feedback(films):
    items, ann, profile, version = films
    client = logged_in(ann)
    start = client.post(API + "conversations/", {"k": 2, "device": "mobile"}, format="json")
    assert start.status_code == 201, start.json()
    body = start.json()
    session_id = body["session"]["id"]
    assert body["session"]["user"] == "ann" and body["turn"]["kind"] == "start"
    assert shown(start) == ["iron-moon", "orbit"]  # nearest to her taste; "Dark Star War" is bought
    assert body["recommendations"]["source"] == "conversation"
    assert body["reply"].startswith('Here are picks from your interests: "Iron Moon" and "Slow Orbit"')

    message = client.post(API + f"conversations/{session_id}/messages/",
                          {"message": "something lighter, less violent", "k": 2}, format="json")  # fmt: skip
    assert message.status_code == 200, message.json()
    lighter = shown(message)
    assert set(lighter).isdisjoint({"iron-moon", "orbit"}), "shown items are not repeated"
    assert lighter[0] == "comet"
    assert message.json()["reply"] == (
        'Here are picks for "something lighter" with less "violent": "Comet Picnic" and "Moon Pie".'
    )

    feedback = client.post(API + f"conversations/{session_id}/feedback/",
                           {"liked": ["moon-pie"], "disliked": ["comet"], "k": 1}, format="json")  # fmt: skip
    assert feedback.status_code == 200, feedback.json()
    assert shown(feedback) == ["meadow"]
    assert feedback.json()["reply"] == (
        'Noted: more like "Moon Pie" and less like "Comet Picnic". Here are picks in that direction: "Meadow Song".'
    )
    recorded = dict(Interaction.objects.filter(user=profile, event_id__startswith="conversation-")
                    .values_list("item__external_id", "event_type"))  # fmt: skip
    assert recorded == {"moon-pie": "like", "comet": "dislike"}

    detail = client.get(API + f"conversations/{session_id}/").json()
    assert [t["kind"] for t in detail["turns"]] == ["start", "message", "feedback"]
    assert detail["turns"][2]["liked"] == ["moon-pie"] and detail["turns"][2]["recommended"] == ["meadow"]


def test_message_and_feedback_move_the_query_vector_by_rocchio(films, settings):
    items, ann, profile, version = films
    settings.LLMREC = {**settings.LLMREC, "CONVERSATION_ROCCHIO": {"alpha": 1.0, "beta": 0.75, "gamma": 0.25},
                       "CONVERSATION_MESSAGE_WEIGHT": 0.5}  # fmt: skip
    client = logged_in(ann)
    session_id = client.post(API + "conversations/", {}, format="json").json()["session"]["id"]
    session = ConversationSession.objects.get(pk=session_id)
    q0 = unit([1, 0, 0.6, 0])
    np.testing.assert_allclose(session.query_vector, q0, rtol=1e-5)

    client.post(API + f"conversations/{session_id}/messages/", {"message": "less violent"}, format="json")
    # No wanted part; unwanted "violent" embeds as unit(0.01, 0.01, 1.01, 0.01):
    violent = unit([0.01, 0.01, 1.01, 0.01])
    q1 = unit(0.5 * q0 - 0.25 * violent)
    session.refresh_from_db()
    np.testing.assert_allclose(session.query_vector, q1, rtol=1e-5)

    before = client.post(API + f"conversations/{session_id}/messages/", {"message": "funny", "k": 1},
                         format="json")  # fmt: skip
    session.refresh_from_db()
    q2 = np.asarray(session.query_vector)
    client.post(API + f"conversations/{session_id}/feedback/", {"liked": ["meadow"], "disliked": ["orbit"]},
                format="json")  # fmt: skip
    session.refresh_from_db()
    expected = unit(1.0 * q2 + 0.75 * items["meadow"].vector - 0.25 * items["orbit"].vector)
    np.testing.assert_allclose(session.query_vector, expected, rtol=1e-5)
    assert before.status_code == 200


def test_feedback_changes_the_next_turns_recommendations(films):
    items, ann, profile, version = films
    client = logged_in(ann)
    first = client.post(API + "conversations/", {"k": 1}, format="json")
    session_id = first.json()["session"]["id"]
    # Without feedback the next picks stay science fiction...
    plain = ConversationSession.objects.get(pk=session_id)
    from llmrec_django.recommend import recommend_for_vector

    unchanged = recommend_for_vector(np.asarray(plain.query_vector, dtype=np.float32), version=version, k=1,
                                     exclude={items["iron-moon"].pk, items["dark-star"].pk})  # fmt: skip
    assert unchanged.external_ids == ["orbit"]
    # ...liking the light one and disliking the violent one turns them light: q = (0.66, 0.67, 0.34),
    # nearest "Comet Picnic" (cosine 0.94) before "Moon Pie" (0.92); "Slow Orbit" drops to 0.79.
    after = client.post(API + f"conversations/{session_id}/feedback/",
                        {"liked": ["meadow"], "disliked": ["iron-moon"], "k": 1}, format="json")  # fmt: skip
    assert shown(after) == ["comet"]


def test_feedback_on_unknown_items_is_a_400_and_changes_nothing(films):
    _, ann, _, _ = films
    client = logged_in(ann)
    session_id = client.post(API + "conversations/", {}, format="json").json()["session"]["id"]
    response = client.post(API + f"conversations/{session_id}/feedback/", {"liked": ["ghost"]}, format="json")
    assert response.status_code == 400 and "ghost" in response.json()["error"]["message"]
    assert ConversationTurn.objects.filter(session_id=session_id).count() == 1
    empty = client.post(API + f"conversations/{session_id}/feedback/", {}, format="json")
    assert empty.status_code == 400


def test_a_session_is_private_to_its_user(films, tenant):
    _, ann, _, _ = films
    session_id = logged_in(ann).post(API + "conversations/", {}, format="json").json()["session"]["id"]
    bob = account("bob")
    profile_of(tenant, bob, "bob")
    other = logged_in(bob)
    assert other.get(API + f"conversations/{session_id}/").status_code == 404
    assert (
        other.post(API + f"conversations/{session_id}/messages/", {"message": "hi"}, format="json").status_code == 404
    )
    assert other.post(API + "conversations/", {"user": "ann"}, format="json").status_code == 404
    server, _ = api_key_client(tenant)
    assert server.get(API + f"conversations/{session_id}/").status_code == 200
    assert server.post(API + "conversations/", {"user": "ann"}, format="json").status_code == 201
    assert server.post(API + "conversations/", {}, format="json").status_code == 400  # must name the user


def test_without_an_active_version_the_conversation_falls_back(tenant):
    ann = account("ann")
    profile_of(tenant, ann, "ann")
    make_item(tenant, "x", "Some Film")
    response = logged_in(ann).post(API + "conversations/", {"message": "something funny"}, format="json")
    assert response.status_code == 201
    recommendations = response.json()["recommendations"]
    assert recommendations["source"] == "fallback:popularity"
    assert recommendations["reason"] == "no active embedding version"


def test_the_reply_template():
    picks = [Recommendation(1, "a", "Alpha", 1.0, ("vector",), ""), Recommendation(2, "b", "Beta", 0.9, (), "")]
    assert conversation_reply(kind="message", items=picks, message="x", wanted="cheap films") == (
        'Here are picks for "cheap films": "Alpha" and "Beta".'
    )
    assert conversation_reply(kind="start", items=[], message="").startswith("I have nothing new")
    assert conversation_reply(kind="start", items=picks[:1], fallback_reason="no vector").startswith(
        'Here are popular picks to start with: "Alpha".'
    )


def test_a_message_the_encoder_cannot_embed_still_answers_and_says_why(films, monkeypatch):
    from tests.api_helpers import KeywordEncoder

    _, ann, _, _ = films
    client = logged_in(ann)
    session_id = client.post(API + "conversations/", {"k": 1}, format="json").json()["session"]["id"]
    before = ConversationSession.objects.get(pk=session_id).query_vector

    def broken(self, texts, **kwargs):
        raise RuntimeError("model file is gone")

    monkeypatch.setattr(KeywordEncoder, "encode", broken)
    response = client.post(API + f"conversations/{session_id}/messages/", {"message": "lighter", "k": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["turn"]["reason"] == "the message could not be embedded (RuntimeError: model file is gone)"
    assert response.json()["recommendations"]["items"]
    assert ConversationSession.objects.get(pk=session_id).query_vector == before
