"""A conversation carries what the user asked for from turn to turn: each turn adds, replaces or
drops constraints, the answer satisfies them, and the API returns them for the chat's chips."""

import pytest

from tests.api_helpers import API, account, logged_in, profile_of
from tests.recommend.test_search_intent import FILMS, films  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def ids(response) -> set[str]:
    return {item["external_id"] for item in response.json()["recommendations"]["items"]}


def texts(response) -> list[str]:
    return [c["text"] for c in response.json()["recommendations"]["intent"]["constraints"]]


def test_turns_add_replace_and_drop_constraints(films, tenant):  # noqa: F811
    ann = account("ann")
    profile_of(tenant, ann, "ann")
    client = logged_in(ann)
    start = client.post(API + "conversations/", {"message": "a dark movie, nothing scary", "k": 3}, format="json")
    assert start.status_code == 201, start.content
    assert texts(start) == ["films", "not horror"] and not ids(start) & {"h1", "h2"}
    session = start.json()["session"]["id"]

    kids = client.post(API + f"conversations/{session}/messages/", {"message": "actually for the kids too", "k": 3},
                       format="json")  # fmt: skip
    assert kids.status_code == 200
    assert texts(kids) == ["films", "not horror", "U or PG"] or texts(kids) == ["films", "not horror", "PG or U"]
    assert ids(kids) <= {"c1", "c2", "a1"} and ids(kids)
    sources = {c["text"]: c["source"] for c in kids.json()["recommendations"]["intent"]["constraints"]}
    assert sources["films"] == "turn"  # carried from the first turn
    assert "not horror" in kids.json()["reply"]
    assert kids.json()["reply"].startswith(("Now U or PG. ", "Now PG or U. "))  # what the turn changed

    dropped = client.post(API + f"conversations/{session}/messages/", {"drop": ["age_rating"], "k": 7}, format="json")
    assert dropped.status_code == 200
    assert texts(dropped) == ["films", "not horror"]
    assert dropped.json()["reply"].startswith(("No longer U or PG. ", "No longer PG or U. "))
    detail = client.get(API + f"conversations/{session}/").json()
    assert [c["attribute"] for c in detail["intent"]["constraints"]] == ["category", "genre"]

    nothing = client.post(API + f"conversations/{session}/messages/", {"message": "", "drop": []}, format="json")
    assert nothing.status_code == 400


def test_when_nothing_satisfies_every_constraint_the_carried_ones_give_way(films, tenant):  # noqa: F811
    """A thriller, then "for the kids": no thriller suits children, so the earlier "thriller"
    gives way and the children's ratings hold."""
    ann = account("ann")
    profile_of(tenant, ann, "ann")
    client = logged_in(ann)
    start = client.post(API + "conversations/", {"message": "a thriller film", "k": 3}, format="json")
    session = start.json()["session"]["id"]
    kids = client.post(API + f"conversations/{session}/messages/", {"message": "for the kids", "k": 3}, format="json")
    assert ids(kids) and ids(kids) <= {"c1", "c2", "a1"}
    assert "thriller" not in texts(kids) and "films" in texts(kids)
    assert "no longer thriller" in kids.json()["reply"]  # the reply says which gave way
