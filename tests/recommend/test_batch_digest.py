"""The e-mail digest of batch lists (``recommend.digest``): the message's contents and headers,
tracked links that record an attributed click and redirect, and unsubscribing."""

from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import numpy as np
import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from llmrec_django.learning.attribution import attribute
from llmrec_django.models import Attribution, BatchList, BatchRun, DigestOptOut, Interaction, UserProfile
from llmrec_django.recommend import batch, digest
from tests.api_helpers import account, profile_of
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def digest_settings(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "batch_files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "ITEM_URL": "/items/{external_id}/",
        "BATCH": {
            "STORAGE": "batch_files",
            "K": 3,
            "SITE_URL": "https://shop.example",
            "FROM_EMAIL": "picks@shop.example",
        },
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def readers(tenant):
    """10 items; Ann and Bob (accounts with addresses), Cy (no address), Dee (no account)."""
    rng = np.random.default_rng(2)
    items = [make_item(tenant, f"book-{i}", f"Book <{i}>", vector=rng.normal(size=4)) for i in range(10)]
    profiles = []
    for name, email in (("ann", "ann@example.org"), ("bob", "bob@example.org"), ("cy", "")):
        user = account(name)
        user.email = email
        user.save()
        profiles.append(profile_of(tenant, user, name))
    profiles.append(UserProfile.objects.create(tenant=tenant, external_id="dee"))
    activate(tenant, items, users=[(p, rng.normal(size=4)) for p in profiles])
    for n, profile in enumerate(profiles):
        Interaction.objects.create(tenant=tenant, event_id=f"r{n}", user=profile, item=items[n], event_type="view")
    return items, profiles


def test_each_user_with_an_address_gets_their_list_with_tracked_links_and_an_unsubscribe_link(readers, tenant):
    out = io.StringIO()
    call_command("llmrec_batch", "--sync", "--email", stdout=out)
    run = BatchRun.objects.get()
    assert run.digests_sent == 2 and "2 digest e-mails sent" in out.getvalue()
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.org", "bob@example.org"]

    message = next(m for m in mail.outbox if m.to == ["ann@example.org"])
    row = BatchList.objects.get(run=run, user__external_id="ann")
    assert message.from_email == "picks@shop.example" and message.subject == "3 picks for you"
    html = message.alternatives[0][0]
    links = re.findall(r'href="([^"]+)"', html)
    assert len(links) == 4 and all(link.startswith("https://shop.example/api/llmrec/v1/digest/") for link in links)
    for position, item in enumerate(row.items, start=1):
        assert item["explanation"] in message.body and f"Book <{item['item'][5:]}>" in message.body  # text: as is
        assert f"Book &lt;{item['item'][5:]}&gt;" in html  # html: escaped
        assert digest.read_token(urlparse(links[position - 1]).path.split("/")[-2], digest.CLICK_SALT) == {
            "u": row.user_id, "l": str(row.served_list_id), "p": position,
        }  # fmt: skip
    assert message.extra_headers["List-Unsubscribe"] == f"<{links[-1]}>"
    assert links[-1] in message.body


def test_a_tracked_link_records_one_attributed_click_and_redirects_to_the_item(readers, tenant):
    batch.start_run(tenant, sync=True, email=True)
    message = next(m for m in mail.outbox if m.to == ["bob@example.org"])
    second = urlparse(re.findall(r"https://\S+/digest/click/\S+/", message.body)[1]).path
    row = BatchList.objects.get(user__external_id="bob")

    browser = Client()
    for _ in range(2):  # a second open (or a mail scanner's fetch) counts once
        response = browser.get(second)
        assert response.status_code == 302 and response["Location"] == f"/items/{row.items[1]['item']}/"
    click = Interaction.objects.get(event_type="click")
    assert click.user.external_id == "bob" and click.item.external_id == row.items[1]["item"]
    assert click.context == {"list_id": str(row.served_list_id), "channel": "email"}
    attribute(tenant)
    credit = Attribution.objects.get(interaction=click)
    assert credit.served_list_id == row.served_list_id and credit.position == 2

    tampered = second.replace("/click/", "/click/x")
    assert browser.get(tampered).status_code == 404
    assert Interaction.objects.filter(event_type="click").count() == 1


def test_unsubscribing_takes_a_post_and_stops_the_next_digest(readers, tenant):
    batch.start_run(tenant, sync=True, email=True)
    message = next(m for m in mail.outbox if m.to == ["ann@example.org"])
    link = urlparse(message.extra_headers["List-Unsubscribe"].strip("<>")).path
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(link)
    assert page.status_code == 200 and b"<form" in page.content and not DigestOptOut.objects.exists()
    # A mail client's one-click unsubscribe (RFC 8058): a POST without session or CSRF token.
    done = browser.post(link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and b"unsubscribed" in done.content
    assert DigestOptOut.objects.get().user.external_id == "ann"

    mail.outbox.clear()
    run = batch.start_run(tenant, sync=True, email=True)
    assert run.digests_sent == 1 and [m.to for m in mail.outbox] == [["bob@example.org"]]
    assert browser.post(link.replace("unsubscribe/", "unsubscribe/0")).status_code == 404


def test_no_site_address_refuses_the_email_run_before_any_work(readers, tenant, settings):
    settings.LLMREC = {**settings.LLMREC, "BATCH": {**settings.LLMREC["BATCH"], "SITE_URL": None}}
    with pytest.raises(CommandError, match="SITE_URL"):
        call_command("llmrec_batch", "--sync", "--email")
    assert not BatchRun.objects.exists() and mail.outbox == []


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(alphabet=st.characters(blacklist_characters="/\x00"), min_size=1, max_size=600))
def test_any_token_is_a_clean_404_and_records_nothing(db, token):
    from urllib.parse import quote

    for kind in ("click", "unsubscribe"):
        response = Client().get(f"/api/llmrec/v1/digest/{kind}/{quote(token, safe='')}/")
        assert response.status_code in (404, 400)
    assert not Interaction.objects.exists() and not DigestOptOut.objects.exists()


def test_a_run_on_the_workers_sends_the_digest_once_when_it_finishes(
    readers, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("llmrec_batch", "--email", stdout=io.StringIO())  # eager Celery in the tests
    run = BatchRun.objects.get()
    assert run.status == BatchRun.Status.DONE and run.digests_sent == 2 and len(mail.outbox) == 2
    batch.finish_run(run.pk)  # a redelivered batch_finish
    assert len(mail.outbox) == 2
