"""Who may call what, tenants, CSRF, throttles, and errors that are always JSON 4xx (never a
500 for bad input); the OpenAPI schema and the offline docs page."""

import io
import re

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.middleware.csrf import get_token
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver
from rest_framework.test import APIClient

from llmrec_django.api import authentication, views
from llmrec_django.api import urls as api_urls
from llmrec_django.api.errors import RequestTooLarge
from llmrec_django.api.parsers import LimitedJSONParser
from llmrec_django.models import ApiKey, Interaction, Item, Tenant, UserProfile
from tests.api_helpers import API, account, api_key_client, logged_in, profile_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant):
    """Ann and Bob (accounts with profiles), a staff member, a server with an API key."""
    Item.objects.create(tenant=tenant, external_id="film-1", title="Film 1")
    ann, bob = account("ann"), account("bob")
    profile_of(tenant, ann, "ann")
    profile_of(tenant, bob, "bob")
    return {
        "anonymous": APIClient(),
        "ann": logged_in(ann),
        "staff": logged_in(account("boss", staff=True)),
        "api_key": api_key_client(tenant)[0],
    }


USER_DATA = [
    ("get", "users/ann/recommendations/"),
    ("get", "users/ann/export/"),
    ("get", "users/ann/"),
    ("get", "users/ann/profile/"),
    ("post", "conversations/"),
]
# Ann's own data: allowed for Ann, staff and API keys; anonymous callers must authenticate.
EXPECTED_OWN = {"anonymous": 401, "ann": 200, "staff": 200, "api_key": 200}


@pytest.mark.parametrize(("method", "path"), USER_DATA)
@pytest.mark.parametrize("caller", list(EXPECTED_OWN))
def test_permission_matrix_on_anns_data(people, caller, method, path):
    body = {"user": "ann"} if method == "post" else None
    response = getattr(people[caller], method)(API + path, body, format="json" if body else None)
    expected = EXPECTED_OWN[caller]
    if method == "post" and expected == 200:
        expected = 201
    assert response.status_code == expected, response.json()
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(("method", "path"), [(m, p.replace("ann", "bob")) for m, p in USER_DATA])
def test_a_user_cannot_reach_another_users_data(people, method, path):
    body = {"user": "bob"} if method == "post" else None
    response = getattr(people["ann"], method)(API + path, body, format="json" if body else None)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No user 'bob' among the profiles you may access (your own)."


def test_me_is_the_callers_own_profile(people):
    assert people["ann"].get(API + "me/").json()["external_id"] == "ann"
    assert people["staff"].get(API + "me/").status_code == 404
    assert people["anonymous"].get(API + "me/").status_code == 401


def test_csrf_is_enforced_for_session_auth_on_unsafe_methods(tenant, people):
    ann = account("ann-csrf")
    profile_of(tenant, ann, "ann-csrf")
    client = logged_in(ann, csrf=True)
    event = {"event_id": "c1", "item_id": "film-1", "event_type": "view"}
    refused = client.post(API + "events/", event, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert not Interaction.objects.exists()
    request = RequestFactory().get("/")
    token = get_token(request)
    client.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    accepted = client.post(API + "events/", event, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    assert client.get(API + "users/ann-csrf/recommendations/").status_code == 200  # safe: no token needed


def test_api_keys_need_no_csrf_and_wrong_or_revoked_keys_are_401(tenant, people):
    client, key = api_key_client(tenant)
    client.handler.enforce_csrf_checks = True
    event = {"event_id": "k1", "user_id": "zoe", "item_id": "film-1", "event_type": "view"}
    assert client.post(API + "events/", event, format="json").status_code == 201
    key.refresh_from_db()
    assert key.last_used_at is not None
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Api-Key llmrec_not-a-key")
    response = wrong.get(API + "users/ann/")
    assert response.status_code == 401 and response.json()["error"]["message"] == "Invalid or revoked API key."
    key.is_active = False  # revoked as the admin does: this process forgets the key at once
    key.save()
    assert client.get(API + "users/ann/").status_code == 401


def test_an_active_key_is_remembered_for_api_key_cache_seconds_and_a_revoked_one_never(
    tenant, people, settings, monkeypatch
):
    client, key = api_key_client(tenant)
    now = [1000.0]
    monkeypatch.setattr(authentication, "monotonic", lambda: now[0])
    assert client.get(API + "users/ann/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(API + "users/ann/").status_code == 200
    assert not [q for q in queries.captured_queries if "llmrec_django_apikey" in q["sql"]], "remembered"
    # Revoked behind the model's back (no signal): refused once the remembered key expires.
    ApiKey.objects.filter(pk=key.pk).update(is_active=False)
    now[0] += settings.LLMREC.get("API_KEY_CACHE_SECONDS", 10) - 1
    assert client.get(API + "users/ann/").status_code == 200
    now[0] += 2
    assert client.get(API + "users/ann/").status_code == 401
    assert client.get(API + "users/ann/").status_code == 401  # a revoked key is looked up every time
    # With 0, every call looks the key up.
    settings.LLMREC = {**settings.LLMREC, "API_KEY_CACHE_SECONDS": 0}
    ApiKey.objects.filter(pk=key.pk).update(is_active=True)
    assert client.get(API + "users/ann/").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(is_active=False)
    assert client.get(API + "users/ann/").status_code == 401


def test_keys_are_stored_hashed(tenant):
    key, raw = ApiKey.issue(tenant, "x")
    assert raw.startswith("llmrec_") and raw not in key.key_hash and key.prefix == raw[7:15]
    assert ApiKey.find(raw) == key and ApiKey.find(raw + "x") is None


def test_tenants(tenant, people, other_tenant):
    Item.objects.create(tenant=other_tenant, external_id="other-item", title="Elsewhere")
    other_tenant.staff.add(get_user_model().objects.get(username="boss"))  # staff work on the tenants listing them
    staff = people["staff"]
    listed = staff.get(API + "items/", HTTP_X_LLMREC_TENANT="other-shop").json()
    assert [i["external_id"] for i in listed["results"]] == ["other-item"]
    assert staff.get(API + "items/", HTTP_X_LLMREC_TENANT="nope").status_code == 404
    refused = people["ann"].get(API + "items/", HTTP_X_LLMREC_TENANT="other-shop")
    assert refused.status_code == 403 and "Only staff" in refused.json()["error"]["message"]
    # An API key works on its own tenant, and only there.
    other_key, _ = api_key_client(other_tenant)
    assert [i["external_id"] for i in other_key.get(API + "items/").json()["results"]] == ["other-item"]
    assert other_key.get(API + "items/", HTTP_X_LLMREC_TENANT="default").status_code == 403
    event = {"event_id": "o1", "user_id": "u", "item_id": "film-1", "event_type": "view"}
    assert other_key.post(API + "events/", event, format="json").status_code == 400  # film-1 is not theirs


def test_throttling_answers_429_in_json(people, settings):
    settings.LLMREC = {"API_THROTTLE_RATES": {"anon": "2/minute", "user": "600/minute", "api_key": "600/minute"}}
    anonymous = people["anonymous"]
    assert [anonymous.get(API + "items/").status_code for _ in range(2)] == [200, 200]
    limited = anonymous.get(API + "items/")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "throttled"
    assert int(limited["Retry-After"]) > 0
    assert people["ann"].get(API + "items/").status_code == 200, "users are counted apart"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"llmrec_user": "1/minute"}}
    cache.clear()
    assert people["ann"].get(API + "items/").status_code == 200
    assert people["ann"].get(API + "items/").status_code == 429


def test_oversized_bodies_are_a_json_413(people, settings):
    settings.LLMREC = {"API_MAX_BODY_BYTES": 1000}
    body = {"events": [{"event_id": f"e{n}", "user_id": "u", "item_id": "film-1", "event_type": "view"}
                       for n in range(100)]}  # fmt: skip
    response = people["api_key"].post(API + "events/bulk/", body, format="json")
    assert response.status_code == 413
    assert (
        response.json()["error"]["code"] == "request_too_large" and "1000 bytes" in response.json()["error"]["message"]
    )
    assert not Interaction.objects.exists()


def test_the_parser_counts_bytes_while_reading_whatever_content_length_said(settings):
    settings.LLMREC = {"API_MAX_BODY_BYTES": 100}
    with pytest.raises(RequestTooLarge):
        LimitedJSONParser().parse(io.BytesIO(b"[" + b"1," * 100 + b"1]"), "application/json", {})
    assert LimitedJSONParser().parse(io.BytesIO(b'{"a": 1}'), "application/json", {}) == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"event_id": "e1", ', "Malformed JSON"),
        (b'{"event_id": "e1", "user_id": "u", "item_id": "film-1", "event_type": "rating", "value": NaN}',
         "NaN is not valid JSON"),
        (b'{"event_id": "e1", "user_id": "u", "item_id": "film-1", "event_type": "view", "value": Infinity}',
         "Infinity is not valid JSON"),
        (b'{"event_id": "e\\u0000", "user_id": "u", "item_id": "film-1", "event_type": "view"}', "NUL"),
        (b'{"event_id": "e1", "user_id": "u", "item_id": "film-1", "event_type": "view", "context": {"k\\u0000": 1}}',
         "NUL"),
        (b"\xff\xfe not text", "not valid utf-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
        (b'[1, 2]', "one event object"),
        (b'{"event_id": ["x"], "user_id": "u", "item_id": "film-1", "event_type": "view"}', "expected text"),
        (b'{"event_id": "e1", "user_id": "u", "item_id": "film-1", "event_type": "view", "value": "high"}',
         "not a number"),
    ],
)  # fmt: skip
def test_bad_input_is_a_json_400_never_a_500(people, raw, message):
    response = people["api_key"].generic("POST", API + "events/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()["error"])
    assert not Interaction.objects.exists()


def test_nul_in_item_attributes_and_text(people):
    client = people["api_key"]
    attributes = client.post(API + "items/", {"external_id": "n", "title": "N", "attributes": {"a": "x\x00"}},
                             format="json")  # fmt: skip
    assert attributes.status_code == 400
    title = client.post(API + "items/", {"external_id": "n", "title": "bad\x00title"}, format="json")
    assert title.status_code == 400 and "details" in title.json()["error"]


def test_wrong_types_in_query_and_body(people):
    client = people["api_key"]
    assert client.post(API + "search/", {"q": ["a", "b"]}, format="json").status_code == 400
    assert client.post(API + "search/", {"q": "x", "k": "many"}, format="json").status_code == 400
    assert client.post(API + "conversations/", {"user": "ann", "message": True}, format="json").status_code == 400
    assert client.post(API + "conversations/", {"user": {"a": 1}}, format="json").status_code == 400
    assert client.post(API + "search/", "q=x", content_type="application/x-www-form-urlencoded").status_code == 415


def test_unknown_paths_and_methods_are_json(people):
    missing = people["anonymous"].get(API + "no-such-endpoint/")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["error"]["message"].startswith("No API endpoint at")
    not_allowed = people["api_key"].delete(API + "search/")
    assert not_allowed.status_code == 405 and not_allowed.json()["error"]["code"] == "method_not_allowed"
    assert people["anonymous"].get("/admin/login/").status_code == 200  # other paths untouched


def test_an_unexpected_error_is_a_logged_json_500(people, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.serving, "for_user", broken)
    response = people["ann"].get(API + "users/ann/recommendations/")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "status": 500,
        "code": "internal_server_error",
        "message": "An unexpected error occurred; it has been logged.",
        "details": None,
    }


def _v1_route_count() -> int:
    [v1] = [p for p in api_urls.urlpatterns if isinstance(p, URLResolver)]
    return len([p for p in v1.url_patterns if isinstance(p, URLPattern)])


def test_the_openapi_schema_validates_without_warnings_and_covers_every_endpoint(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    paths = {p for p in schema["paths"] if p.startswith(API)}
    # Every route but the schema and docs pages themselves.
    assert len(paths) == _v1_route_count() - 3
    for expected in ["events/bulk/", "users/{external_id}/recommendations/", "conversations/{id}/feedback/",
                     "items/{external_id}/similar/", "search/", "users/{external_id}/export/"]:  # fmt: skip
        assert API + expected in paths
    assert schema["components"]["securitySchemes"]["apiKey"]["in"] == "header"


def test_the_docs_page_uses_bundled_assets(people):
    page = people["anonymous"].get(API + "docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    # No asset from elsewhere (the page's CSRF token is random text, so no bare "cdn" search).
    assert not re.search(r"(?:src|href)=[\"'](?:https?:)?//", html), "an asset from another host"
    assert people["anonymous"].get(API + "schema/").status_code == 200


def test_unknown_users_get_a_profile_on_ingestion(people):
    event = {"event_id": "n1", "user_id": "newcomer", "item_id": "film-1", "event_type": "view"}
    assert people["api_key"].post(API + "events/", event, format="json").json()["users_created"] == 1
    assert UserProfile.objects.filter(external_id="newcomer", tenant=Tenant.objects.get(slug="default")).exists()


def test_a_path_without_its_trailing_slash_is_a_json_404_naming_the_right_one(people, settings):
    settings.DEBUG = True  # CommonMiddleware would raise for a POST here
    response = people["api_key"].post(API + "events", {"event_id": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["message"].endswith(f"end with a slash: {API}events/.")


@pytest.mark.parametrize(
    "path",
    [
        "users/%00/recommendations/",
        "items/%00/similar/",
        "items/a%00b/",
        "users/%00/export/",
        "conversations/99999999999999999999999/",
        "relations/99999999999999999999999/",
    ],
)
def test_nul_or_overflowing_ids_in_paths_are_not_found(people, path):
    response = people["api_key"].get(API + path)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_malformed_tenant_header_is_a_400(people):
    response = people["staff"].get(API + "items/", HTTP_X_LLMREC_TENANT="a\x00b")
    assert response.status_code == 400 and "X-LLMRec-Tenant" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("relations/?item=%00", 400),
        ("relations/?relation=%00", 400),
        ("items/?q=%00", 400),
        ("items/?category=%00", 400),
        ("items/?updated_since=zzz", 400),
        ("search/?q=%00", 400),
        ("items/?offset=99999999999999999999999", 200),
        ("items/?limit=99999999999999999999999", 200),
    ],
)
def test_bad_query_parameters_are_4xx_never_500(people, path, status):
    response = people["api_key"].get(API + path)
    assert response.status_code == status, response.json()


def test_anonymous_callers_are_throttled_by_their_address_not_one_they_write(people, settings):
    """A client that writes its own X-Forwarded-For gets no fresh counter per request."""
    settings.LLMREC = {"API_THROTTLE_RATES": {"anon": "2/minute", "user": "600/minute", "api_key": "600/minute"}}
    anonymous = people["anonymous"]
    codes = [anonymous.get(API + "items/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(4)]
    assert codes == [200, 200, 429, 429]


def test_behind_trusted_proxies_the_address_the_nearest_proxy_saw_counts(people, settings):
    settings.LLMREC = {
        "API_THROTTLE_RATES": {"anon": "2/minute", "user": "600/minute", "api_key": "600/minute"},
        "TRUSTED_PROXIES": 1,
    }
    anonymous = people["anonymous"]

    def get(forwarded):
        return anonymous.get(API + "items/", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The client prepends made-up addresses; the proxy appends the real one (203.0.113.7).
    assert [get(f"10.9.9.{n}, 203.0.113.7") for n in range(3)] == [200, 200, 429]
    assert get("198.51.100.2") == 200, "another client, another counter"


def test_client_address_takes_the_entry_of_the_nearest_trusted_proxy(rf, settings):
    from llmrec_django.api.throttles import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2, 3.3.3.3", REMOTE_ADDR="4.4.4.4")
    for proxies, expected in [(0, "4.4.4.4"), (1, "3.3.3.3"), (2, "2.2.2.2"), (5, "1.1.1.1")]:
        settings.LLMREC = {"TRUSTED_PROXIES": proxies}
        assert client_address(request) == expected
    settings.LLMREC = {"TRUSTED_PROXIES": None}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_address(request) == "3.3.3.3", "DRF's NUM_PROXIES when LLMREC says nothing"
    assert client_address(rf.get("/", REMOTE_ADDR="4.4.4.4")) == "4.4.4.4", "no header: the connection's"
