"""Bulk event ingestion through the REST API against per-event ORM saves, in the same run.

    python bench/api_ingest.py [--events 10000] [--rounds 3] [--cleanup]

A tenant of its own (``bench-ingest``) gets 1,000 items. Each round sends ``--events`` new events
(500 users, a fifth of them unknown to the tenant, so profiles are created) as one
``POST /api/llmrec/v1/events/bulk/`` with an API key, through Django's full request stack (test
client: middleware, authentication, JSON parsing, validation, the set-based insert); then the
same request again (every event a duplicate: the idempotent retry). The reference is the naive
path the API avoids: the same number of ``Interaction.objects.create`` calls in one transaction.
The best round of each is kept (filters out other work on the machine); the load average is
printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench-ingest"
ITEMS = 1000
USERS = 500


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cleanup", action="store_true", help="drop the bench tenant and exit")
    args = parser.parse_args()
    setup_django()

    from django.db import transaction
    from django.test import Client

    from llmrec_django.models import ApiKey, Interaction, Item, Tenant, UserProfile

    if args.cleanup:
        Tenant.objects.filter(slug=TENANT).delete()
        log("dropped the bench tenant")
        return
    tenant, _ = Tenant.objects.get_or_create(slug=TENANT)
    if Item.objects.filter(tenant=tenant).count() < ITEMS:
        Item.objects.bulk_create(
            [Item(tenant=tenant, external_id=f"i{n}", title=f"Item {n}", content_hash="x") for n in range(ITEMS)],
            ignore_conflicts=True,
        )
    for n in range(USERS * 4 // 5):
        UserProfile.objects.get_or_create(tenant=tenant, external_id=f"u{n}")
    _, raw_key = ApiKey.issue(tenant, "bench")
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    url = "/api/llmrec/v1/events/bulk/"

    def events(run: str) -> list[dict]:
        return [
            {
                "event_id": f"{run}-{n}",
                "user_id": f"u{n % USERS}" if n % USERS < USERS * 4 // 5 else f"{run}-new-{n % USERS}",
                "item_id": f"i{n % ITEMS}",
                "event_type": ("view", "click", "purchase")[n % 3],
                "timestamp": 1_700_000_000 + n,
                "device": "mobile" if n % 2 else "desktop",
            }
            for n in range(args.events)
        ]

    api, retry, orm = [], [], []
    for round_no in range(args.rounds):
        run = uuid.uuid4().hex[:8]
        body = {"events": events(run)}
        started = time.perf_counter()
        response = client.post(url, body, content_type="application/json")
        api.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content[:500]
        assert response.json()["created"] == args.events, response.json()
        started = time.perf_counter()
        again = client.post(url, body, content_type="application/json")
        retry.append(time.perf_counter() - started)
        assert again.json()["duplicates"] == args.events, again.json()

        items = dict(Item.objects.filter(tenant=tenant).values_list("external_id", "pk"))
        users = dict(UserProfile.objects.filter(tenant=tenant).values_list("external_id", "pk"))
        started = time.perf_counter()
        with transaction.atomic():
            for n, event in enumerate(events(run + "-orm")):
                Interaction.objects.create(
                    tenant=tenant,
                    event_id=event["event_id"],
                    user_id=users[f"u{n % (USERS * 4 // 5)}"],
                    item_id=items[event["item_id"]],
                    event_type=event["event_type"],
                    device=event["device"],
                )
        orm.append(time.perf_counter() - started)
        log(f"round {round_no + 1}: API {api[-1]:.2f} s, retry {retry[-1]:.2f} s, ORM saves {orm[-1]:.2f} s")

    best_api, best_retry, best_orm = min(api), min(retry), min(orm)
    print()
    print(f"{args.events:,} events per request, best of {args.rounds}; load average {os.getloadavg()[0]:.2f}")
    print(f"  API bulk request (new events):   {best_api:6.2f} s  ({args.events / best_api:,.0f} events/s)")
    print(f"  API bulk request (all retried):  {best_retry:6.2f} s  ({args.events / best_retry:,.0f} events/s)")
    print(f"  reference, ORM create() per event: {best_orm:6.2f} s  ({args.events / best_orm:,.0f} events/s)")
    print(f"  API / ORM time: {best_api / best_orm:.2f}")


if __name__ == "__main__":
    main()
