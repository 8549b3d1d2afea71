"""The example site in a real headless browser (Debian ``chromium`` driven by Playwright).

A new visitor signs up, browses the catalogue, opens an item, clicks a similar item, opens "for
you", searches and uses the chat page (a message and a like); the test then checks that the
tracking script and the chat turned those into Interaction rows of that user (view, click,
impressions, like), and the visitor turns personalisation off on "Your interests". A staff member opens the admin's recommendation preview, starts an
evaluation and reads its report. Screenshots go to artifacts/browser/ (docs/pages.md shows copies).

Needs the ``chromium`` executable (``apt-get install chromium``; scripts/services installs it)
and the ``playwright`` package; it never downloads a browser (no ``playwright install``). Runs
headless with ``--no-sandbox`` (CI runs as root). Select with ``-m browser``.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone

from llmrec_django.database import caches
from llmrec_django.models import EvaluationReport, Interaction, UserProfile
from tests.api_helpers import keyword_encoder_settings
from tests.recommend_helpers import activate, make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots go to artifacts/browser/ (ignored by git; $LLMREC_TEST_ARTIFACTS moves it); the
# ones in docs/screenshots/ are copied from there by hand when the pages change.
SCREENSHOTS = (
    Path(os.environ.get("LLMREC_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts") / "browser"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_MS = 15_000


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made here (the
    # test's own queries) are still synchronous, which Django allows with this switch.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if CHROMIUM is None:
        pytest.skip("No chromium executable on PATH (Debian: apt-get install chromium).")
    sync_api = pytest.importorskip("playwright.sync_api", reason="The playwright package is not installed.")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()
        # Queries made while Playwright's loop runs use connections of their own (Django keeps
        # them per context); close them here, or the test database cannot be dropped at the end.
        connections.close_all()


# Titles use the keyword encoder's words (tests/api_helpers.KEYWORD_AXES): "space"/"ship"/"star"
# point along axis 0, "light"/"funny"/"gentle" along 1, "war"/"dark" along 2, "running"/"trail"/"shoe" along 3.
CATALOGUE = [
    ("ship", "Lantern Ship", "films", [1, 0, 0, 0], 12),
    ("harbour", "Star Harbour", "films", [0.95, 0.3, 0, 0], 9),
    ("orbit", "Space Orbit Diaries", "films", [0.9, 0.1, 0.2, 0], 11),
    ("comet", "Comet Star Atlas", "books", [0.85, 0, 0, 0.2], 18),
    ("picnic", "A Light Funny Picnic", "films", [0.1, 1, 0, 0], 8),
    ("garden", "Gentle Garden Tales", "books", [0.2, 0.9, 0, 0.1], 14),
    ("front", "Dark War Front", "films", [0.2, 0, 1, 0], 10),
    ("trail", "Trail Running Shoe", "running shoes", [0, 0, 0, 1], 95),
    ("road", "Road Running Shoe", "running shoes", [0, 0.1, 0, 0.95], 80),
    ("socks", "Running Socks", "running shoes", [0, 0.2, 0, 0.9], 12),
]


@pytest.fixture
def site(tenant, settings):
    """The catalogue in an active version, other shoppers' purchases (popularity, evaluation) and a
    staff account."""
    keyword_encoder_settings(settings)
    caches.clear_all()
    items = {}
    for external_id, title, category, vector, price in CATALOGUE:
        items[external_id] = make_item(tenant, external_id, title, category=category, vector=vector, price=price)
        items[external_id].description = f"{title}: a fine choice in {category}."
        items[external_id].save()
    start = timezone.now() - timedelta(days=20)
    habits = {"s1": "ship harbour orbit", "s2": "ship harbour comet", "s3": "picnic garden ship",
              "s4": "trail road socks", "s5": "trail road ship", "s6": "harbour orbit comet"}  # fmt: skip
    shoppers = []
    for uid, names in habits.items():
        shopper = UserProfile.objects.create(tenant=tenant, external_id=uid)
        shoppers.append((shopper, items[names.split()[0]].vector))
        for day, name in enumerate(names.split()):
            Interaction.objects.create(tenant=tenant, event_id=f"{uid}-{name}", user=shopper, item=items[name],
                                       event_type="purchase", timestamp=start + timedelta(days=day))  # fmt: skip
    activate(tenant, list(items.values()), users=shoppers)
    get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-password")
    yield items
    caches.clear_all()


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def wait_for(condition, what: str, page=None, timeout: float = 15.0):
    """Poll ``condition``; with ``page``, Playwright's loop runs meanwhile (route handlers need it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(200)
        else:
            time.sleep(0.2)
    raise AssertionError(f"Timed out waiting for {what}.")


def watched_page(browser) -> tuple:
    """A new browser context and page, and the list its script errors and console errors go to."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return context, page, errors


def sign_up(page, username: str, interests: str, password: str = "a-long-pass-123") -> None:
    """From any page of the shop: the sign-up form, filled in and sent; lands on "for you"."""
    page.click("text=Sign up")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    page.fill("textarea[name=interests]", interests)
    page.click("button:has-text('Create my account')")
    page.wait_for_url("**/for-you/")


def test_a_new_user_clicks_through_the_site_and_the_clicks_become_interactions(browser, live_server, site, tenant):
    context, page, errors = watched_page(browser)

    # Sign up.
    page.goto(live_server.url + "/")
    sign_up(page, "newbie", "space ships and stars")
    user = get_user_model().objects.get(username="newbie")
    profile = UserProfile.objects.get(tenant=tenant, user=user)

    # Browse the catalogue, open an item, click a similar item.
    page.click("nav >> text=Catalogue")
    page.click(".grid >> text=Lantern Ship")
    page.wait_for_url("**/items/ship/")
    page.wait_for_selector("[data-llmrec-list=similar] [data-llmrec-item]")
    shoot(page, "item-page")
    similar = page.locator("[data-llmrec-list=similar] [data-llmrec-item]").first
    clicked = similar.get_attribute("data-llmrec-item")
    similar.locator("a").click()
    page.wait_for_url(f"**/items/{clicked}/")

    # "For you": personalised from the sign-up text and the clicks.
    page.click("nav >> text=For you")
    for_you = page.locator("[data-llmrec-list=recommendations]")
    for_you.wait_for()
    assert for_you.get_attribute("data-llmrec-source") == "hybrid"
    shown_for_you = page.locator("[data-llmrec-list=recommendations] [data-llmrec-item]").count()
    assert shown_for_you > 0
    shoot(page, "for-you")

    # Search.
    page.click("nav >> text=Search")
    page.fill("input[name=q]", "trail running shoe under $90")
    page.click(".llmrec-search-box button")
    page.wait_for_selector("[data-llmrec-list=search] [data-llmrec-item]")
    results = page.locator("[data-llmrec-list=search] [data-llmrec-item]").all_inner_texts()
    assert "Road Running Shoe" in results[0] and not any("Trail Running Shoe" in r for r in results)  # $95
    shoot(page, "search")

    # The chat page: a message, then a like.
    page.click("nav >> text=Ask")
    page.fill(".chat-form input[name=message]", "something light and funny")
    page.click(".chat-form button")
    page.wait_for_selector(".chat-item")
    liked = page.locator(".chat-item").first.get_attribute("data-item")
    page.locator(".chat-item .like").first.click()
    page.wait_for_function("document.querySelectorAll('.bubble.bot').length >= 2")
    shoot(page, "chat")
    page.evaluate("window.llmrec && window.llmrec.flush()")

    # What the browser sent is stored as the user's interactions.
    mine = Interaction.objects.filter(tenant=tenant, user=profile)
    wait_for(lambda: mine.filter(event_type="view", item__external_id="ship").exists(), "the item view")
    click = wait_for(
        lambda: mine.filter(event_type="click", item__external_id=clicked).first(), "the click on a similar item"
    )
    assert click.context["list"] == "similar" and click.context["position"] == 1 and click.device == "desktop"
    # The click names the served list that showed the item, and is credited to it.
    from llmrec_django.learning import attribution
    from llmrec_django.models import Attribution, ServedList

    served = ServedList.objects.get(pk=click.context["list_id"])
    assert served.surface == "similar" and served.user == profile
    attribution.attribute(tenant)
    credited = Attribution.objects.get(pk=click.pk)
    assert credited.served_list_id == served.pk and credited.position == 1
    wait_for(
        lambda: mine.filter(event_type="impression", context__list="recommendations").count() >= shown_for_you,
        "the impressions of the for-you list",
    )
    assert mine.filter(event_type="like", item__external_id=liked).exists()
    assert mine.filter(event_type="impression", context__list="search").exists()
    assert not Interaction.objects.exclude(user=profile).filter(created_at__gte=profile.created_at).exists()

    # "Your interests": the sign-up words, then personalisation off.
    page.click("nav >> text=Your interests")
    assert page.locator(".interest-text").first.inner_text() == "space ships and stars"
    page.click("button:has-text('Turn personalisation off')")
    page.wait_for_selector("button:has-text('Turn personalisation on')")
    shoot(page, "interests")
    profile.refresh_from_db()
    assert not profile.personalisation_enabled
    assert not errors, errors
    context.close()


def test_staff_open_the_preview_the_evaluation_report_and_the_api_docs(browser, live_server, site, tenant):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(live_server.url + "/admin/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-password")
    page.click("input[type=submit]")
    page.click("text=Recommendation preview")
    page.fill("input[name=user]", "s1")
    page.fill("input[name=device]", "mobile")
    page.click("#preview-form input[type=submit]")
    page.wait_for_selector("#preview-results tbody tr")
    assert "hybrid" in page.inner_text("#content-main")
    shoot(page, "admin-preview")

    page.goto(live_server.url + "/admin/llmrec_django/evaluationreport/add/")
    page.fill("input[name=k]", "3")
    page.click("input[value='Start the evaluation']")
    page.wait_for_selector("svg.llmrec-chart", timeout=60_000)  # eager Celery: done within the request
    assert EvaluationReport.objects.get().status == "done"
    shoot(page, "admin-evaluation-report")

    page.goto(live_server.url + "/api/llmrec/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock")
    shoot(page, "api-docs")

    experiment = simulate_experiment(tenant, site)
    page.goto(live_server.url + "/admin/llmrec_django/experiment/")
    page.click(f"tr:has-text('{experiment.name}') >> text=Online metrics")
    page.wait_for_selector("#experiment-arms")
    assert "control" in page.inner_text("#experiment-arms") and page.locator("svg.llmrec-chart").count() >= 3
    shoot(page, "admin-experiment-dashboard")
    context.close()


def simulate_experiment(tenant, items):
    """Two arms over five days of lists for the shoppers; the "diverse" arm's lists are clicked
    twice as often (a seeded simulation), so the dashboard has something to show."""
    import random

    from llmrec_django.models import Experiment, ExperimentArm, ServedList
    from llmrec_django.recommend import serving

    experiment = Experiment.objects.create(
        tenant=tenant, name="diversity", description="Does a more diverse list (MMR lambda 0.5) get more clicks?"
    )
    ExperimentArm.objects.create(experiment=experiment, name="control", traffic=50, is_control=True)
    ExperimentArm.objects.create(experiment=experiment, name="diverse", traffic=50, strategy={"mmr_lambda": 0.5})
    caches.clear_all()
    rng = random.Random(5)
    by_id = {item.pk: item for item in items.values()}
    shoppers = list(UserProfile.objects.filter(tenant=tenant, external_id__startswith="s"))
    start = timezone.now() - timedelta(days=5)
    for day in range(5):
        for round_ in range(4):
            for shopper in shoppers:
                served_at = start + timedelta(days=day, hours=round_)
                result = serving.for_user(shopper, k=4)
                ServedList.objects.filter(pk=result.list_id).update(served_at=served_at)
                for position, item_id in enumerate(result.item_ids, start=1):
                    if rng.random() < (0.12 if result.arm == "control" else 0.3):
                        Interaction.objects.create(
                            tenant=tenant, event_id=f"sim-{result.list_id}-{position}", user=shopper,
                            item=by_id[item_id], event_type="click", timestamp=served_at + timedelta(minutes=2),
                            context={"list_id": result.list_id, "position": position},
                        )  # fmt: skip
                        if rng.random() < 0.3:
                            Interaction.objects.create(
                                tenant=tenant, event_id=f"sim-buy-{result.list_id}-{position}", user=shopper,
                                item=by_id[item_id], event_type="purchase", timestamp=served_at + timedelta(minutes=9),
                                value=float(by_id[item_id].attributes["price"]),
                            )  # fmt: skip
    return experiment


def test_a_lost_answer_is_retried_with_the_same_event_ids_and_stored_once(browser, live_server, site, tenant):
    """The first batch reaches the server but its answer is lost: the script sends the same events
    again, and the API's idempotency on event_id stores each once."""
    get_user_model().objects.create_user("ann", password="ann-password-1")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "ann-password-1")
    page.click("form.form button")
    page.wait_for_url("**/for-you/")

    batches = []

    def lose_the_first_answer(route):
        batches.append(route.request.post_data_json["events"])
        response = route.fetch()  # the server stores the events ...
        if len(batches) == 1:
            route.abort()  # ... but the page never hears back
        else:
            route.fulfill(response=response)

    page.route("**/api/llmrec/v1/events/bulk/", lose_the_first_answer)
    page.goto(live_server.url + "/items/harbour/")
    shown = page.locator("[data-llmrec-list=similar] [data-llmrec-item]").count()
    wait_for(lambda: batches, "the first batch", page)
    page.wait_for_timeout(300)  # the failure reaches the script
    page.evaluate("window.llmrec.flush()")  # instead of waiting for the retry timer
    wait_for(lambda: len(batches) >= 2, "the retried batch", page)
    first_ids = [e["event_id"] for e in batches[0]]
    assert [e["event_id"] for e in batches[1]][: len(first_ids)] == first_ids

    profile = UserProfile.objects.get(tenant=tenant, user__username="ann")
    mine = Interaction.objects.filter(tenant=tenant, user=profile)
    assert mine.filter(event_type="view", item__external_id="harbour").count() == 1
    assert mine.filter(event_type="impression", context__list="similar").count() == shown > 0
    wait_for(lambda: queued(page) == [], "the queue", page)
    page.unroute_all(behavior="ignoreErrors")
    context.close()


def queued(page) -> list | None:
    """The events the tracking script holds in the tab's storage (None when nothing is stored)."""
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('llmrec.pending-events'))")
    return None if stored is None else stored["events"]


def log_in(page, live_server, username: str, password: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button")
    page.wait_for_url("**/for-you/")


def test_events_queued_by_one_account_are_never_sent_under_the_next_login(browser, live_server, site, tenant):
    """Ann's events cannot be delivered (the API is unreachable) when she logs out; Bob logs in
    in the same tab: nothing of Ann's is sent under his account, and his own events are."""
    user_model = get_user_model()
    user_model.objects.create_user("ann", password="ann-password-1")
    user_model.objects.create_user("bob", password="bob-password-1")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, live_server, "ann", "ann-password-1")
    sent = []

    def unreachable(route):
        sent.append(route.request.post_data_json["events"])
        route.abort()

    page.route("**/api/llmrec/v1/events/bulk/", unreachable)
    page.goto(live_server.url + "/items/harbour/")
    wait_for(lambda: sent, "Ann's first try", page)
    assert any(e["item_id"] == "harbour" and e["event_type"] == "view" for e in queued(page))
    anns = {e["event_id"] for e in queued(page)}

    page.click("form[action='/accounts/logout/'] button")
    page.wait_for_load_state()
    assert queued(page) is None  # the anonymous page emptied the queue
    # Even a queue that outlived the logout (storage restored, another site's template) is dropped:
    page.evaluate(
        """sessionStorage.setItem('llmrec.pending-events', JSON.stringify({owner: 'someone-else',
        events: [{event_id: 'planted-1', item_id: 'front', event_type: 'purchase',
        timestamp: new Date().toISOString(), device: '', context: {}}]}))"""
    )
    page.unroute_all(behavior="ignoreErrors")
    delivered = []
    page.on(
        "request",
        lambda request: delivered.extend(request.post_data_json["events"]) if "events/bulk" in request.url else None,
    )
    log_in(page, live_server, "bob", "bob-password-1")
    page.goto(live_server.url + "/items/garden/")
    page.evaluate("window.llmrec.flush()")
    # His profile is made when his first events arrive: wait for them rather than race them.
    profiles = UserProfile.objects.filter(tenant=tenant, user__username="bob")
    wait_for(profiles.exists, "Bob's profile", page)
    bob = profiles.get()
    wait_for(lambda: Interaction.objects.filter(user=bob, event_type="view").exists(), "Bob's view", page)
    wait_for(lambda: queued(page) == [], "Bob's queue", page)
    assert {e["item_id"] for e in delivered if e["event_type"] == "view"} == {"garden"}
    assert not [e for e in delivered if e["event_id"] in anns | {"planted-1"}]
    assert not Interaction.objects.filter(user=bob, event_id__in=anns | {"planted-1"}).exists()
    assert not Interaction.objects.filter(user=bob, event_type="purchase").exists()
    context.close()
