"""The first hour, in a real browser: what a new shopper and the site's owner see.

A shopper signs up naming three interests; their first "for you" page holds all three (not
"popular this week"), each item saying which interest it matches. They open one: back on "for
you" the list has moved on within seconds (what they just clicked is not offered again). They
refine in the chat. The owner opens the admin: a user's "Preview" link opens on a list (not a
form error) and a training run's page reads as a report. Every step is saved as a screenshot in
``artifacts/first-hour/`` (or ``$LLMREC_TEST_ARTIFACTS/first-hour/``) for a reviewer to look at.

Select with ``-m browser``; needs Debian's ``chromium`` and the ``playwright`` package (see
``test_browser.py``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from llmrec_django.models import Interaction, TrainingRun, UserProfile
from tests.site.test_browser import TIMEOUT_MS, browser, sign_up, site, wait_for, watched_page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LLMREC_TEST_ARTIFACTS") or ROOT / "artifacts") / "first-hour"
# The site fixture's catalogue (test_browser.CATALOGUE) by the interest each item belongs to.
INTEREST_OF = {
    "ship": "space", "harbour": "space", "orbit": "space", "comet": "space",
    "picnic": "funny", "garden": "funny",
    "trail": "running", "road": "running", "socks": "running",
    "front": "war",
}  # fmt: skip


def shoot(page, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=True)


def listed(page, name: str) -> list[str]:
    return [
        element.get_attribute("data-llmrec-item")
        for element in page.locator(f"[data-llmrec-list={name}] [data-llmrec-item]").all()
    ]


def test_the_first_hour_of_a_shopper_and_of_the_sites_owner(browser, live_server, site, tenant):  # noqa: F811
    context, page, errors = watched_page(browser)

    # 1. A visitor arrives.
    page.goto(live_server.url + "/")
    shoot(page, "1-arrival")

    # 2. Sign-up with three interests: the first page holds all three.
    sign_up(page, "newbie", "space ships, funny films, and trail running")
    for_you = page.locator("[data-llmrec-list=recommendations]")
    for_you.wait_for()
    assert for_you.get_attribute("data-llmrec-source") == "hybrid"  # personal from the first page
    first = listed(page, "recommendations")
    assert {"space", "funny", "running"} <= {INTEREST_OF[i] for i in first[:3]}, first
    reasons = page.locator("[data-llmrec-list=recommendations] .llmrec-explanation").all_inner_texts()
    assert any("from your interests" in reason for reason in reasons), reasons
    war = page.locator("[data-llmrec-list=recommendations] [data-llmrec-item=front] .llmrec-explanation")
    assert war.count() == 0 or "from your interests" not in war.inner_text()  # matches none of them
    assert not any("Popular this week" in reason for reason in reasons)
    shoot(page, "2-first-page")

    # 3. A click; back on "for you" within seconds, the list has moved on.
    clicked = first[0]
    page.locator(f"[data-llmrec-list=recommendations] [data-llmrec-item='{clicked}'] a").first.click()
    page.wait_for_url(f"**/items/{clicked}/")
    page.evaluate("window.llmrec && window.llmrec.flush()")
    profile = UserProfile.objects.get(tenant=tenant, user__username="newbie")
    wait_for(lambda: Interaction.objects.filter(user=profile, event_type="click").exists(), "the click", page)
    started = time.monotonic()
    page.click("nav >> text=For you")
    for_you.wait_for()
    after = listed(page, "recommendations")
    assert clicked not in after and after != first, (first, after)
    assert time.monotonic() - started < 10
    shoot(page, "3-after-a-click")

    # 4. Refining in the chat.
    page.click("nav >> text=Ask")
    page.fill(".chat-form input[name=message]", "something light and funny")
    page.click(".chat-form button")
    page.wait_for_selector(".chat-item")
    suggested = [element.get_attribute("data-item") for element in page.locator(".chat-item").all()]
    assert INTEREST_OF[suggested[0]] == "funny", suggested
    page.locator(".chat-item .like").first.click()
    page.wait_for_function("document.querySelectorAll('.bubble.bot').length >= 2")
    # What was asked shows as chips; closing one drops it.
    page.fill(".chat-form input[name=message]", "funny films under $10")
    page.click(".chat-form button")
    page.wait_for_function("document.querySelectorAll('.bubble.bot').length >= 3")
    assert sorted(page.locator(".chat-intent .chip").all_inner_texts()) == ["films ×", "price under 10 ×"]
    shoot(page, "4-chat")
    page.click(".chat-intent .chip[data-attribute=price] .chip-drop")
    page.wait_for_function("document.querySelectorAll('.bubble.bot').length >= 4")
    assert page.locator(".chat-intent .chip").all_inner_texts() == ["films ×"]
    assert not errors, errors
    context.close()

    # 5. The owner: a user's "Preview" link opens on their list; a training run reads as a report.
    run = TrainingRun.objects.create(
        tenant=tenant, kind="encoder", status="succeeded", progress=1.0, duration_seconds=412.0,
        params={"lr": 0.003, "epochs": 12, "trainable": "projection"},
        data_window={"users": 6, "train_pairs": 18},
        epochs=[{"epoch": 1, "train_loss": 2.1, "valid_loss": 1.9, "seconds": 30.0},
                {"epoch": 2, "train_loss": 1.4, "valid_loss": 1.6, "seconds": 29.5}],
    )  # fmt: skip
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    owner.set_default_timeout(TIMEOUT_MS)
    admin = owner.new_page()
    admin.goto(live_server.url + "/admin/login/")
    admin.fill("input[name=username]", "boss")
    admin.fill("input[name=password]", "boss-password")
    admin.click("input[type=submit]")
    admin.goto(live_server.url + "/admin/llmrec_django/userprofile/?q=newbie")
    admin.click("#result_list >> text=Preview")
    admin.wait_for_selector("#preview-results")
    assert admin.locator(".errorlist").count() == 0
    assert admin.locator("#preview-results tr").count() > 1
    shoot(admin, "5-admin-preview")
    admin.goto(live_server.url + "/admin/llmrec_django/trainingrun/")
    admin.click(f"#result_list th a[href$='/{run.pk}/change/']")
    admin.wait_for_selector("text=Hyper-parameters")
    assert admin.locator("input[name=_save]").count() == 0
    assert "Succeeded in 412 s" in admin.content()
    shoot(admin, "6-training-run")
    owner.close()
    assert get_user_model().objects.filter(username="newbie").exists()
