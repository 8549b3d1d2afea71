"""Event ingestion through the API: single and bulk, idempotent, all or nothing, 10,000 at once."""

import pytest

from llmrec_django import tasks
from llmrec_django.models import Interaction, Item, UserProfile
from tests.api_helpers import API, account, api_key_client, logged_in, profile_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def films(tenant):
    return [Item.objects.create(tenant=tenant, external_id=f"film-{n}", title=f"Film {n}") for n in range(20)]


@pytest.fixture
def server(tenant):
    return api_key_client(tenant)[0]


def event(n, user="u1", item="film-1", event_type="view", **extra):
    return {"event_id": f"e{n}", "user_id": user, "item_id": item, "event_type": event_type, **extra}


def test_one_event_is_stored_and_a_retry_is_not_counted_twice(server, films):
    body = event(1, device="mobile", value=2.5, timestamp="2026-01-02T10:00:00Z", context={"page": "home"})
    response = server.post(API + "events/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"received": 1, "created": 1, "duplicates": 0, "users_created": 1}
    stored = Interaction.objects.get(event_id="e1")
    assert (stored.user.external_id, stored.item.external_id, stored.device, stored.value) == (
        "u1",
        "film-1",
        "mobile",
        2.5,
    )
    assert stored.context == {"page": "home"} and stored.timestamp.isoformat() == "2026-01-02T10:00:00+00:00"
    again = server.post(API + "events/", body, format="json")
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert Interaction.objects.filter(event_id="e1").count() == 1


def test_bulk_of_10000_events_is_stored_set_based_and_idempotent(server, films, django_assert_max_num_queries):
    rows = [event(n, user=f"u{n % 500}", item=f"film-{n % 20}", event_type="click") for n in range(10_000)]
    with django_assert_max_num_queries(40):
        response = server.post(API + "events/bulk/", {"events": rows}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"received": 10_000, "created": 10_000, "duplicates": 0, "users_created": 500}
    assert Interaction.objects.count() == 10_000
    retry = server.post(API + "events/bulk/", {"events": rows}, format="json")
    assert retry.status_code == 200
    assert retry.json() == {"received": 10_000, "created": 0, "duplicates": 10_000, "users_created": 0}
    assert Interaction.objects.count() == 10_000


def test_an_invalid_bulk_request_stores_nothing_and_names_every_bad_row(server, films):
    rows = [
        event(1),
        event(2, item="no-such-film"),
        event(3, event_type="teleport"),
        event(4, value="NaN"),
        {"event_id": "e5", "user_id": "u1", "item_id": "film-1", "event_type": "view", "colour": "red"},
        "not an object",
        event(7, timestamp="yesterday"),
    ]
    response = server.post(API + "events/bulk/", {"events": rows}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "nothing was stored" in error["message"]
    by_row = {e["index"]: e for e in error["details"]}
    assert sorted(by_row) == [1, 2, 3, 4, 5, 6]
    assert by_row[1]["field"] == "item_id" and "unknown item 'no-such-film'" in by_row[1]["message"]
    assert by_row[2]["field"] == "event_type" and "teleport" in by_row[2]["message"]
    assert by_row[3]["field"] == "value"
    assert "colour" in by_row[4]["message"]
    assert by_row[6]["field"] == "timestamp"
    assert Interaction.objects.count() == 0 and not UserProfile.objects.exists()


def test_event_types_come_from_the_settings(server, films, settings):
    settings.LLMREC = {"EVENT_WEIGHTS": {"wishlist": 1.2}}
    assert server.post(API + "events/", event(1, event_type="wishlist"), format="json").status_code == 201


def test_too_many_events_in_one_request_is_a_clear_400(server, films, settings):
    settings.LLMREC = {"API_MAX_BULK_EVENTS": 3}
    response = server.post(API + "events/bulk/", {"events": [event(n) for n in range(4)]}, format="json")
    assert response.status_code == 400 and "At most 3 events" in response.json()["error"]["message"]


def test_the_body_must_have_an_events_list(server):
    response = server.post(API + "events/bulk/", [event(1)], format="json")
    assert response.status_code == 400 and response.json()["error"]["details"] == {
        "events": ['Send {"events": [event, ...]}.']
    }


def test_new_events_queue_a_refresh_of_the_users_vectors(
    server, films, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.refresh_user_vectors, "apply_async", lambda args, **options: queued.append(tuple(args)))
    with django_capture_on_commit_callbacks(execute=True):
        server.post(API + "events/bulk/", {"events": [event(1, user="a"), event(2, user="b")]}, format="json")
    users = dict(UserProfile.objects.values_list("external_id", "pk"))
    assert queued == [(films[0].tenant_id, sorted([users["a"], users["b"]]))]
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        server.post(API + "events/", event(1, user="a"), format="json")  # a duplicate: nothing new
    assert queued == []


def test_a_user_sends_only_their_own_events(tenant, films):
    ann = account("ann")
    profile_of(tenant, ann, "ann")
    client = logged_in(ann)
    mine = client.post(API + "events/", {"event_id": "x1", "item_id": "film-2", "event_type": "like"}, format="json")
    assert mine.status_code == 201
    assert Interaction.objects.get(event_id="x1").user.external_id == "ann"
    theirs = client.post(API + "events/", event(2, user="bob"), format="json")
    assert theirs.status_code == 403 and "your own events" in theirs.json()["error"]["message"]


def test_an_account_without_a_profile_gets_one_on_its_first_event(tenant, films):
    cem = account("cem")
    response = logged_in(cem).post(API + "events/", {"event_id": "c1", "item_id": "film-1", "event_type": "view"},
                                   format="json")  # fmt: skip
    assert response.status_code == 201
    assert UserProfile.objects.get(user=cem).external_id == f"account-{cem.pk}"


@pytest.mark.parametrize("permissions", [False, True])
def test_staff_browsing_the_shop_record_their_own_events(tenant, films, permissions):
    """Staff are users too: events without a user_id go to their own profile (the tracking
    script sends none), with or without permissions; naming someone else takes the grant."""
    admin = account("admin", staff=True, permissions=permissions)
    client = logged_in(admin)
    rows = [{"event_id": f"s{n}", "item_id": f"film-{n}", "event_type": "view"} for n in range(3)]
    response = client.post(API + "events/bulk/", {"events": rows}, format="json")
    assert response.status_code == 201 and response.json()["created"] == 3
    profile = UserProfile.objects.get(tenant=tenant, user=admin)
    assert Interaction.objects.filter(user=profile).count() == 3
    mine = client.post(API + "events/", event(9, user=profile.external_id), format="json")
    assert mine.status_code == 201
    theirs = client.post(API + "events/", event(10, user="bob"), format="json")
    assert theirs.status_code == (201 if permissions else 403)


def test_anonymous_callers_cannot_send_events(films):
    from rest_framework.test import APIClient

    response = APIClient().post(API + "events/", event(1), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_events_from_the_future_or_before_1900_are_refused_with_a_clear_error(server, films, settings):
    """An event dated ahead of the server's clock would count as the newest for ever (popularity,
    recency); a time outside Python's range once in UTC could be stored but never read back."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    settings.LLMREC = {**settings.LLMREC, "EVENT_FUTURE_SKEW_SECONDS": 300}
    rows = [
        event(1, timestamp=(now + timedelta(seconds=200)).isoformat()),  # a clock a little ahead: fine
        event(2, timestamp="9999-12-31T23:59:59Z"),
        event(3, timestamp=(now + timedelta(hours=1)).isoformat()),
        event(4, timestamp="9999-12-31T23:00:00-05:00"),  # year 10000 in UTC
        event(5, timestamp="0001-01-01T00:00:00+01:00"),  # year 0 in UTC
        event(6, timestamp="1899-12-31T23:59:59Z"),
        event(7, timestamp=253402300800),  # Unix seconds of year 10000
        event(8, timestamp="1995-06-01T12:00:00+02:00"),  # old catalogues' history: fine
    ]
    response = server.post(API + "events/bulk/", {"events": rows}, format="json")
    assert response.status_code == 400
    by_row = {e["index"]: e for e in response.json()["error"]["details"]}
    assert sorted(by_row) == [1, 2, 3, 4, 5, 6]
    assert all(e["field"] == "timestamp" for e in by_row.values())
    assert "in the future" in by_row[1]["message"] and "300 s ahead" in by_row[1]["message"]
    assert "before 1900-01-01" in by_row[5]["message"]
    assert Interaction.objects.count() == 0
    accepted = server.post(API + "events/bulk/", {"events": [rows[0], rows[7]]}, format="json")
    assert accepted.status_code == 201
    assert Interaction.objects.get(event_id="e8").timestamp.isoformat() == "1995-06-01T10:00:00+00:00"


def test_one_user_cannot_claim_the_event_ids_of_another(tenant, films):
    """Event ids are unique per user: Bob sending Ann's next id first does not drop her event."""
    ann, bob = account("ann"), account("bob")
    profile_of(tenant, ann, "ann")
    profile_of(tenant, bob, "bob")
    body = {"event_id": "web-42", "item_id": "film-3", "event_type": "view"}
    assert logged_in(bob).post(API + "events/", body, format="json").status_code == 201
    assert logged_in(ann).post(API + "events/", body, format="json").status_code == 201
    assert sorted(Interaction.objects.filter(event_id="web-42").values_list("user__external_id", flat=True)) == [
        "ann",
        "bob",
    ]
    again = logged_in(ann).post(API + "events/", body, format="json")
    assert again.status_code == 200 and again.json()["duplicates"] == 1, "her own retry is still a duplicate"


def test_a_signed_in_user_sends_a_bounded_number_of_events_with_a_bounded_context(tenant, films, settings):
    settings.LLMREC = {**settings.LLMREC, "API_MAX_USER_EVENTS": 100, "EVENT_CONTEXT_MAX_BYTES": 4096}
    ann = account("ann")
    profile_of(tenant, ann, "ann")
    client = logged_in(ann)
    rows = [{"event_id": f"a{n}", "item_id": "film-1", "event_type": "view"} for n in range(101)]
    too_many = client.post(API + "events/bulk/", {"events": rows}, format="json")
    assert too_many.status_code == 400 and "At most 100 events" in too_many.json()["error"]["message"]
    assert client.post(API + "events/bulk/", {"events": rows[:100]}, format="json").status_code == 201
    big = {"event_id": "big", "item_id": "film-1", "event_type": "view", "context": {"note": "x" * 5000}}
    refused = client.post(API + "events/", big, format="json")
    assert refused.status_code == 400
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "context" and "at most 4096" in detail["message"]
    assert not Interaction.objects.filter(event_id="big").exists()
    server = api_key_client(tenant)[0]
    many = [event(n, user=f"u{n}") for n in range(500)]
    assert server.post(API + "events/bulk/", {"events": many}, format="json").status_code == 201, "servers: 20,000"
