"""Template tags ({% load llmrec %}) and the example site's pages: lists for logged-in and
anonymous visitors, the fallback without a version, overridable templates, tracking markup,
sign-up with a linked profile."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.test import RequestFactory

from llmrec_django.models import Interaction, UserProfile
from llmrec_django.recommend import web
from tests.api_helpers import ann_catalogue
from tests.recommend_helpers import activate, link, make_item

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.fixture
def shop(tenant, settings):
    """Ann (an account) bought "Lantern Ship"; her vector points at it. Three walkers bought "Mud Runner"."""
    items, ann, profile = ann_catalogue(tenant, settings)
    for n in range(3):
        walker = UserProfile.objects.create(tenant=tenant, external_id=f"walker-{n}")
        Interaction.objects.create(
            tenant=tenant, event_id=f"w{n}", user=walker, item=items["shoe"], event_type="purchase"
        )
    return items, ann, profile


def render(source: str, user=None, user_agent: str = "", **context) -> str:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/", HTTP_USER_AGENT=user_agent)
    request.user = user or AnonymousUser()
    return Template("{% load llmrec %}" + source).render(Context({"request": request, **context}))


def shown(html: str) -> list[str]:
    return re.findall(r'data-llmrec-item="([^"]+)"', html)


def test_a_logged_in_visitor_gets_their_own_list_marked_up_for_tracking(shop, tenant):
    items, ann, _ = shop
    activate(tenant, list(items.values()), users=[(UserProfile.objects.get(external_id="ann"), [1, 0, 0, 0])])
    html = render("{% llmrec_recommendations k=3 %}", user=ann)
    assert 'data-llmrec-list="recommendations"' in html and 'data-llmrec-source="hybrid"' in html
    assert shown(html)[0] == "harbour" and "ship" not in shown(html)  # bought: left out
    assert 'data-llmrec-position="1"' in html
    assert 'href="/items/harbour/"' in html  # LLMREC["ITEM_URL"] = "shop:item"
    assert "Similar to &quot;Lantern Ship&quot; you bought" in html


def test_an_anonymous_visitor_gets_the_popular_list(shop, tenant):
    items, _, _ = shop
    activate(tenant, list(items.values()))
    html = render("{% llmrec_recommendations k=2 %}")
    assert 'data-llmrec-source="fallback:popularity"' in html
    assert shown(html)[0] == "shoe"
    assert "Popular this week" in html


def test_without_an_active_version_the_list_falls_back_to_popularity(shop):
    _, ann, _ = shop
    html = render("{% llmrec_recommendations k=2 %}", user=ann)
    assert 'data-llmrec-source="fallback:popularity"' in html and shown(html)[0] == "shoe"


def test_a_named_user_and_a_category(shop, tenant):
    items, _, profile = shop
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    html = render('{% llmrec_recommendations user="ann" category="running shoes" k=3 %}')
    assert shown(html) == ["shoe"]
    assert 'data-llmrec-source="fallback:popularity"' in render('{% llmrec_recommendations user="nobody" k=2 %}')


def test_copy_is_written_for_the_list(shop, tenant):
    items, ann, profile = shop
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    html = render("{% llmrec_recommendations k=2 with_copy=True %}", user=ann)
    assert 'class="llmrec-copy"' in html and "Star Harbour" in html.split('class="llmrec-copy"')[1]


def test_a_failing_service_renders_nothing_and_logs(shop, monkeypatch, caplog):
    _, ann, _ = shop

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("llmrec_django.templatetags.llmrec.serving.for_user", broken)
    html = render("<p>before</p>{% llmrec_recommendations k=2 %}<p>after</p>", user=ann)
    assert "<p>before</p>" in html and "<p>after</p>" in html and not shown(html)
    assert "database on fire" in caplog.text


def test_similar_items_and_search_results(shop, tenant):
    items, ann, _ = shop
    activate(tenant, list(items.values()))
    html = render("{% llmrec_similar_items item k=2 %}", item=items["ship"])
    assert shown(html) == ["harbour", "war"] and 'data-llmrec-list="similar"' in html
    assert shown(render('{% llmrec_similar_items "ship" k=1 %}')) == ["harbour"]
    html = render("{% llmrec_search_results q k=2 %}", user=ann, q="star ship")
    assert 'data-llmrec-list="search"' in html and shown(html)[0] in {"ship", "harbour"}
    assert UserProfile.objects.get(external_id="ann").recent_queries == ["star ship"]
    assert render("{% llmrec_search_results q %}", q="  ").strip() == ""


def test_the_search_box_keeps_the_query():
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/search/", {"q": 'a "quoted" <query>'})
    request.user = AnonymousUser()
    html = Template('{% load llmrec %}{% llmrec_search_box action="/search/" %}').render(Context({"request": request}))
    assert 'action="/search/"' in html and 'value="a &quot;quoted&quot; &lt;query&gt;"' in html


def test_a_site_template_overrides_the_default(shop, tenant, settings, tmp_path):
    items, _, _ = shop
    activate(tenant, list(items.values()))
    override = tmp_path / "llmrec_django" / "tags"
    override.mkdir(parents=True)
    (override / "similar_items.html").write_text(
        "{% for shown in items %}<b data-llmrec-item='{{ shown.external_id }}'>{{ shown.title }}</b>{% endfor %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    html = render("{% llmrec_similar_items 'ship' k=1 %}")
    assert html == "<b data-llmrec-item='harbour'>Star Harbour</b>"


def test_the_tracking_script_is_only_for_logged_in_visitors(shop):
    """Enabled for an account, with an opaque owner token per account; for an anonymous visitor
    it is there disabled, to empty a queue someone who logged out left behind."""
    _, ann, _ = shop
    html = render("{% llmrec_tracking_script %}", user=ann, user_agent=IPHONE)
    assert "llmrec_django/tracking.js" in html and 'data-enabled="true"' in html
    assert 'data-endpoint="/api/llmrec/v1/events/bulk/"' in html and 'data-device="mobile"' in html
    [owner] = re.findall(r'data-owner="([0-9a-f]+)"', html)
    assert len(owner) == 24 and str(ann.pk) not in re.sub(r"[^0-9]", " ", owner).split()
    bob = get_user_model().objects.create_user("bob")
    assert f'data-owner="{owner}"' not in render("{% llmrec_tracking_script %}", user=bob)
    assert f'data-owner="{owner}"' in render("{% llmrec_tracking_script %}", user=ann)  # stable
    anonymous = render("{% llmrec_tracking_script %}")
    assert 'data-enabled="false"' in anonymous and 'data-owner=""' in anonymous


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (IPHONE, "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36", "tablet"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "tablet"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36", "desktop"),
        ("", "desktop"),
    ],
)
def test_device_from_the_user_agent(agent, device):
    assert web.device_from_user_agent(agent) == device


def test_context_rules_see_the_device(shop, tenant):
    from llmrec_django.models import BusinessRule

    items, _, _ = shop
    activate(tenant, list(items.values()))
    BusinessRule.objects.create(tenant=tenant, kind="block", item=items["shoe"], device="mobile")
    assert "shoe" in shown(render("{% llmrec_recommendations k=5 %}"))
    assert "shoe" not in shown(render("{% llmrec_recommendations k=5 %}", user_agent=IPHONE))


# --- the example site's pages ------------------------------------------------------------------


def test_the_site_answers_the_browsers_favicon_request(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("shop/favicon.svg")


def test_pages_render_for_visitors_and_members(client, shop, tenant):
    items, ann, _ = shop
    activate(tenant, list(items.values()))
    for url in ["/", "/?category=running+shoes&page=1", "/items/ship/", "/for-you/", "/search/?q=star", "/search/"]:
        assert client.get(url).status_code == 200, url
    assert client.get("/items/nope/").status_code == 404
    assert client.get("/chat/").status_code == 302  # members only
    page = client.get("/items/ship/").content.decode()
    assert 'data-llmrec-view="ship"' in page and 'data-llmrec-list="similar"' in page
    assert 'data-enabled="false"' in page  # anonymous: nothing is posted (the script only empties the queue)
    client.force_login(ann)
    page = client.get("/for-you/").content.decode()
    assert "tracking.js" in page and 'data-llmrec-list="recommendations"' in page
    assert client.get("/chat/").status_code == 200


def test_the_catalogue_paginates_and_filters(client, tenant):
    for n in range(30):
        make_item(tenant, f"b{n:02d}", f"Book {n:02d}", category="books")
    make_item(tenant, "tea", "Green tea", category="tea")
    first = client.get("/").content.decode()
    assert "Page 1 of 2" in first and "Book 00" in first
    assert "Green tea" in client.get("/?page=2").content.decode()
    filtered = client.get("/?category=tea").content.decode()
    assert "Green tea" in filtered and "Book 00" not in filtered


def test_sign_up_creates_the_account_and_a_linked_profile(client, tenant):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": "a-long-pass-123", "password2": "a-long-pass-123", "interests": "sea"},
    )
    assert response.status_code == 302 and response["Location"] == "/for-you/"
    user = get_user_model().objects.get(username="newbie")
    profile = UserProfile.objects.get(tenant=tenant, user=user)
    assert profile.external_id == f"account-{user.pk}" and profile.profile_text == "sea"
    assert profile.profile_text_source == "user"  # the user's own words: never overwritten
    assert client.get("/for-you/").context["user"] == user  # logged in
    client.logout()
    bad = client.post("/accounts/signup/", {"username": "x", "password1": "a", "password2": "b"})
    assert bad.status_code == 200 and not get_user_model().objects.filter(username="x").exists()


def test_log_in_and_out(client, shop):
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/for-you/"
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/chat/").status_code == 302


def test_the_interests_page_shows_edits_resets_and_switches_personalisation(client, shop, tenant):
    items, ann, profile = shop
    link(tenant, items["ship"], "has_genre", "genre", "science fiction")
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    assert client.get("/interests/").status_code == 302  # members only
    client.force_login(ann)
    page = client.get("/for-you/").content.decode()
    assert 'href="/interests/"' in page  # in the nav
    page = client.get("/interests/").content.decode()
    assert "Nothing yet" in page and "Turn personalisation off" in page

    response = client.post("/interests/", {"action": "save", "profile_text": "Slow <b>thrillers</b>"}, follow=True)
    page = response.content.decode()
    assert "Slow &lt;b&gt;thrillers&lt;/b&gt;" in page and "Written by you" in page
    assert "Likes films (genre: science fiction)." in page  # what we learned, offered as the reset
    profile.refresh_from_db()
    assert (profile.profile_text, profile.profile_text_source) == ("Slow <b>thrillers</b>", "user")

    client.post("/interests/", {"action": "reset"})
    profile.refresh_from_db()
    assert (profile.profile_text, profile.profile_text_source) == ("Likes films (genre: science fiction).", "generated")

    page = client.post("/interests/", {"action": "personalisation_off"}, follow=True).content.decode()
    assert "Personalisation is off" in page and "Turn personalisation on" in page
    assert 'data-llmrec-source="fallback:popularity"' in client.get("/for-you/").content.decode()
    client.post("/interests/", {"action": "personalisation_on"})
    profile.refresh_from_db()
    assert profile.personalisation_enabled


def test_the_interests_page_refuses_bad_input(client, shop):
    _, ann, profile = shop
    client.force_login(ann)
    too_long = client.post("/interests/", {"action": "save", "profile_text": "x" * 1001})
    assert too_long.status_code == 400 and "at most 1000 characters" in too_long.content.decode()
    assert client.post("/interests/", {"action": "delete everything"}).status_code == 400
    profile.refresh_from_db()
    assert profile.profile_text == ""
