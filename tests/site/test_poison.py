"""A value PostgreSQL cannot store (a NUL, ``%00``) never stops the service: pages and the API
refuse it at the boundary (400, never 500), the services clean what reaches them another way,
and a write the database still refuses is set aside so the lists queued behind it are stored."""

import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from llmrec_django.models import QuarantinedWrite, ServedList
from llmrec_django.recommend import served_log, serving
from llmrec_django.recommend.served_log import ServedEntry
from tests.api_helpers import API, ann_catalogue, api_key_client
from tests.recommend_helpers import activate

pytestmark = pytest.mark.django_db

PAGES = ["/", "/search/", "/for-you/", "/chat/", "/items/ship/", "/interests/", "/accounts/signup/"]


@pytest.fixture
def shop(tenant, settings):
    items, ann, profile = ann_catalogue(tenant, settings)
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    return items, ann, profile


@pytest.fixture
def background_log(settings):
    settings.LLMREC = {**settings.LLMREC, "ONLINE": {"LOG_WRITES": "background", "LOG_FLUSH_SECONDS": 3600}}
    served_log.flush()
    yield served_log.writer
    served_log.flush()


@pytest.mark.parametrize(
    "url",
    ["/?category=%00", "/items/%00/", "/items/a%00b/similar/", "/search/?q=ab%00cd", "/for-you/?x%00=1",
     API + "items/?category=%00", API + "search/?q=a%00"],
)  # fmt: skip
def test_a_nul_in_a_url_is_a_400_never_a_500(shop, url):
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == 400, (url, response.status_code)
    if url.startswith(API):
        assert response.json()["error"]["code"] == "bad_request"
    else:
        assert "cannot be stored" in response.content.decode()


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.sampled_from(PAGES), key=st.sampled_from(["q", "category", "page", "k"]), value=st.text(max_size=40))
def test_no_query_string_makes_a_page_fail(shop, page, key, value):
    """Property: whatever a visitor puts in a page's query string, the page answers below 500."""
    response = Client(raise_request_exception=False).get(page, {key: value})
    assert response.status_code < 500, (page, key, value, response.status_code)


FORM_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["\x00", "ann\x00", "x" * 3000, "<script>alert(1)</script>", "' OR 1=1 --", "ann"]),
)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    username=FORM_TEXT,
    password=FORM_TEXT,
    interests=FORM_TEXT,
    action=st.one_of(st.sampled_from(["save", "reset", "personalisation_off", "personalisation_on"]), FORM_TEXT),
    profile_text=FORM_TEXT,
)
def test_no_form_post_makes_a_page_fail(shop, username, password, interests, action, profile_text):
    """Property: whatever a visitor posts to the site's forms (sign-up, log-in, "your interests"),
    the page answers below 500, and whatever is stored can be stored."""
    _, ann, profile = shop
    visitor = Client(raise_request_exception=False)
    for url, data in [
        (
            "/accounts/signup/",
            {"username": username, "password1": password, "password2": password, "interests": interests},
        ),
        ("/accounts/login/", {"username": username, "password": password}),
    ]:
        response = visitor.post(url, data)
        assert response.status_code < 500, (url, data, response.status_code)
    member = Client(raise_request_exception=False)
    member.force_login(ann)
    response = member.post("/interests/", {"action": action, "profile_text": profile_text})
    assert response.status_code < 500, (action, profile_text, response.status_code)
    profile.refresh_from_db()
    assert "\x00" not in profile.profile_text


def test_a_poisoned_search_from_a_template_tag_leaves_the_log_writing(shop, tenant, background_log):
    """The template tags call the services directly (no middleware between): the query and the
    context are made storable there, and the lists logged after it are written."""
    _, _, profile = shop
    poisoned = serving.search("space\x00 ship", tenant=tenant, user=profile, context={"device": "mob\x00ile"})
    assert poisoned.items
    profile.refresh_from_db()
    assert profile.recent_queries[-1] == "space ship"
    for _ in range(3):
        serving.popular(tenant=tenant, k=3, context={"location": float("nan")})
    assert background_log.flush() == 4 and background_log.pending == 0
    assert ServedList.objects.count() == 4 and not QuarantinedWrite.objects.exists()
    logged = ServedList.objects.get(surface="search")
    assert logged.context["query"] == "space ship" and logged.context["device"] == "mobile"


def test_a_row_the_database_refuses_is_set_aside_and_the_rest_are_written(shop, tenant, background_log):
    good = [
        ServedEntry(id=uuid.uuid4(), tenant_id=tenant.pk, user_id=None, surface="popular", source="s", item_ids=[1])
        for _ in range(3)
    ]
    # A surface longer than its column: refused by the database whatever its state.
    bad = ServedEntry(id=uuid.uuid4(), tenant_id=tenant.pk, user_id=None, surface="x" * 500, source="s", item_ids=[])
    for entry in [good[0], bad, good[1], good[2]]:
        background_log.submit(entry)
    assert background_log.flush() == 3 and background_log.pending == 0, "never retried forever"
    assert set(ServedList.objects.values_list("id", flat=True)) == {entry.id for entry in good}
    [row] = QuarantinedWrite.objects.all()
    assert row.kind == "served_list" and row.tenant_id == tenant.pk and row.payload["id"] == str(bad.id)
    assert "DataError" in row.error
    assert background_log.quarantined == 1 and background_log.flush() == 0


def test_the_health_endpoint_counts_what_needs_a_person(shop, tenant, background_log, monkeypatch):
    anonymous = Client()
    assert anonymous.get(API + "health/").json() == {"status": "ok"}
    QuarantinedWrite.objects.create(kind="served_list", tenant=tenant, error="DataError: ...")
    server = api_key_client(tenant)[0]
    body = server.get(API + "health/").json()
    assert body["status"] == "needs_attention" and body["work"]["quarantined_writes"] == 1
    assert set(body["served_log"]) == {"pending", "written", "dropped", "quarantined"}
    assert anonymous.get(API + "health/").json() == {"status": "ok"}, "the counts are for staff and keys"
    from llmrec_django.database import health

    monkeypatch.setattr(health, "database_answers", lambda: False)
    down = anonymous.get(API + "health/")
    assert down.status_code == 503 and down.json() == {"status": "unavailable"}


def test_erasing_a_user_deletes_their_writes_set_aside(shop, tenant):
    from llmrec_django.recommend import privacy

    _, _, profile = shop
    QuarantinedWrite.objects.create(kind="served_list", tenant=tenant, user=profile, error="x")
    privacy.erase_user(profile)
    assert not QuarantinedWrite.objects.exists()
