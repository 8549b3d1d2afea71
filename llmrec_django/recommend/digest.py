"""The e-mail digest of a batch run's lists: one message per user with an e-mail address (the
account linked to the profile) who did not unsubscribe, rendered from the site's templates and
sent with Django's mail framework.

Usage (``python manage.py llmrec_batch --email`` does this after a run)::

    from llmrec_django.recommend import digest

    sent = digest.send_run(run)            # the run's lists, as messages, through EMAIL_BACKEND
    message = digest.message_for(batch_list)   # one EmailMultiAlternatives, or None (no address, opted out)

Templates ``llmrec_django/email/digest_subject.txt``, ``digest.txt`` and ``digest.html`` (a site
overrides them in its own templates folder); their context: ``user`` (the profile), ``account``,
``items`` (each ``position``, ``external_id``, ``title``, ``explanation``, ``url``: the tracked
link), ``unsubscribe_url``, ``site_url``.

Links: each item's ``url`` is the API's ``digest/click/<token>/``, whose signed token names the
user, the list's recommendation id (its served-list id) and the position: it records a click
event with ``context.list_id`` (so attribution credits the batch list, once per list and
position) and redirects to the item's page (``LLMREC["ITEM_URL"]``). ``unsubscribe_url`` is
``digest/unsubscribe/<token>/`` (a page with a button, and RFC 8058 one-click from the
``List-Unsubscribe`` headers), which records a ``DigestOptOut``. Links start with
``LLMREC["BATCH"]["SITE_URL"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from llmrec_django.catalogue.events import ingest_events
from llmrec_django.conf import llmrec_settings
from llmrec_django.models import BatchList, BatchRun, DigestOptOut, Item, UserProfile
from llmrec_django.recommend.web import item_url

logger = logging.getLogger(__name__)

CLICK_SALT = "llmrec_django.digest.click"
UNSUBSCRIBE_SALT = "llmrec_django.digest.unsubscribe"
SEND_BATCH = 100  # messages per connection round


class DigestNotConfigured(ValueError):
    """``LLMREC["BATCH"]["SITE_URL"]`` is not set: links in a message would lead nowhere."""


# ---------------------------------------------------------------------------------------------
# Tokens


def click_token(user_id: int, list_id: str, position: int) -> str:
    return signing.dumps({"u": user_id, "l": list_id, "p": position}, salt=CLICK_SALT, compress=True)


def unsubscribe_token(user_id: int) -> str:
    return signing.dumps({"u": user_id}, salt=UNSUBSCRIBE_SALT)


def read_token(token: str, salt: str) -> dict[str, Any]:
    """The token's payload; ``signing.BadSignature`` when it was not made here (or is altered)."""
    if len(token) > 500:
        raise signing.BadSignature("token too long")
    value = signing.loads(token, salt=salt)
    if not isinstance(value, dict) or not isinstance(value.get("u"), int):
        raise signing.BadSignature("not a digest token")
    return value


# ---------------------------------------------------------------------------------------------
# Clicks and unsubscribing (the views in ``api/digest_views.py`` call these)


@dataclass
class Click:
    redirect_to: str  # the item's page, "" when LLMREC["ITEM_URL"] gives none
    recorded: bool  # False: the list, user or item is gone (nothing to credit)


def record_click(token: str) -> Click:
    """Record the click a tracked link names (once per list and position) and where it leads."""
    value = read_token(token, CLICK_SALT)
    position = value.get("p")
    row = BatchList.objects.filter(user_id=value["u"], served_list_id=value.get("l")).select_related("user").first()
    if row is None or not isinstance(position, int) or not 1 <= position <= len(row.items):
        return Click("", False)
    external_id = row.items[position - 1]["item"]
    target = item_url(external_id)
    if not Item.objects.filter(tenant_id=row.user.tenant_id, external_id=external_id).exists():
        return Click(target, False)
    ingest_events(
        [
            {
                "event_id": f"digest-click:{row.served_list_id}:{position}",
                "user_id": row.user.external_id,
                "item_id": external_id,
                "event_type": "click",
                "context": {"list_id": str(row.served_list_id), "channel": "email"},
            }
        ],
        row.user.tenant_id,
    )
    return Click(target, True)


def unsubscribe(token: str) -> UserProfile | None:
    """Record the opt-out a token names; the profile, or None when it is gone."""
    value = read_token(token, UNSUBSCRIBE_SALT)
    profile = UserProfile.objects.filter(pk=value["u"]).first()
    if profile is not None:
        DigestOptOut.objects.get_or_create(user=profile)
    return profile


# ---------------------------------------------------------------------------------------------
# Messages


def site_url() -> str:
    url = llmrec_settings.BATCH["SITE_URL"]
    if not url:
        raise DigestNotConfigured('Set LLMREC["BATCH"]["SITE_URL"] (e.g. "https://shop.example") to send the digest.')
    return str(url).rstrip("/")


def message_for(row: BatchList, *, connection: Any = None) -> EmailMultiAlternatives | None:
    """The digest message of one batch list; None when the user has no address, unsubscribed,
    or the list is empty."""
    profile = row.user
    account = profile.user
    address = getattr(account, "email", "") if account is not None else ""
    if not address or not row.items or DigestOptOut.objects.filter(user=profile).exists():
        return None
    site = site_url()
    titles = dict(Item.objects.filter(tenant_id=profile.tenant_id, external_id__in=[i["item"] for i in row.items])
                  .values_list("external_id", "title"))  # fmt: skip
    items = [
        {
            "position": position,
            "external_id": item["item"],
            "title": titles.get(item["item"], item["item"]),
            "explanation": item["explanation"],
            "url": site
            + reverse("llmrec_api:digest-click", args=[click_token(profile.pk, str(row.served_list_id), position)]),
        }
        for position, item in enumerate(row.items, start=1)
    ]
    unsubscribe_url = site + reverse("llmrec_api:digest-unsubscribe", args=[unsubscribe_token(profile.pk)])
    context = {
        "user": profile,
        "account": account,
        "items": items,
        "unsubscribe_url": unsubscribe_url,
        "site_url": site,
    }
    subject = render_to_string("llmrec_django/email/digest_subject.txt", context).strip() or str(
        llmrec_settings.BATCH["DIGEST_SUBJECT"]
    )
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # one line: a header
        body=render_to_string("llmrec_django/email/digest.txt", context),
        from_email=llmrec_settings.BATCH["FROM_EMAIL"] or settings.DEFAULT_FROM_EMAIL,
        to=[address],
        connection=connection,
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("llmrec_django/email/digest.html", context), "text/html")
    return message


def _rows(run: BatchRun) -> Iterator[BatchList]:
    lists = BatchList.objects.filter(run=run).select_related("user", "user__user").order_by("user_id")
    yield from lists.iterator(chunk_size=SEND_BATCH)


def send_run(run: BatchRun) -> int:
    """Send the digest of each of the run's lists (see ``message_for``); returns the messages sent."""
    site_url()  # before anything is sent
    connection = get_connection()
    sent = 0
    pending: list[EmailMultiAlternatives] = []
    for row in _rows(run):
        message = message_for(row, connection=connection)
        if message is not None:
            pending.append(message)
        if len(pending) >= SEND_BATCH:
            sent += connection.send_messages(pending) or 0
            pending = []
    if pending:
        sent += connection.send_messages(pending) or 0
    logger.info("Batch run %s: %d digest messages sent.", run.pk, sent)
    return sent
