"""Locust traffic for ``bench/load_test.py``: recommendation reads and event ingestion, at fixed rates.

Not meant to be run alone (the driver prepares the data, the server, the worker and these
environment variables), but it can be, against any site with the llmrec API:

- ``LOAD_EVENT_USERS``: events come from users ``user-0`` .. ``user-N-1`` (default
  ``LOAD_USERS``; more than exist: the others are created by their first event);
- ``LOAD_API_KEY``: an API key of the tenant; ``LOAD_USERS``: how many users ``user-0`` ..
  ``user-N-1`` exist; ``LOAD_ITEMS``: items ``s0`` .. ``sN-1``;
- ``LOAD_BATCH``: events per ingestion request; ``LOAD_ACCEPTED``: a file where each accepted
  event id is written (one per line) when the test stops, so the driver can prove none was lost.

Each ``Recommender`` sends one request a second, each ``Ingester`` one batch a second
(``constant_throughput``), so ``-u`` and the class weights set the rates exactly.
"""

from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, constant_throughput, events, task

API = "/api/llmrec/v1"
HEADERS = {"Authorization": f"Api-Key {os.environ.get('LOAD_API_KEY', '')}"}
USERS = int(os.environ.get("LOAD_USERS", "300"))
EVENT_USERS = int(os.environ.get("LOAD_EVENT_USERS", str(USERS)))
ITEMS = int(os.environ.get("LOAD_ITEMS", "10000"))
BATCH = int(os.environ.get("LOAD_BATCH", "10"))
TYPES = ("view", "click", "add_to_cart", "purchase", "like")
ACCEPTED: list[str] = []


class Recommender(HttpUser):
    """A page asking for a user's "for you" list."""

    weight = int(os.environ.get("LOAD_RECOMMENDERS", "50"))
    wait_time = constant_throughput(1)

    @task
    def recommendations(self) -> None:
        user = f"user-{random.randrange(USERS)}"
        with self.client.get(
            f"{API}/users/{user}/recommendations/?k=10",
            headers=HEADERS,
            name="recommendations",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif len(response.json()["items"]) != 10:
                response.failure(f"not 10 items: {response.text[:200]}")


class Ingester(HttpUser):
    """A site's server posting what its users did, ``BATCH`` events a request."""

    weight = int(os.environ.get("LOAD_INGESTERS", "20"))
    wait_time = constant_throughput(1)

    @task
    def events(self) -> None:
        batch = [
            {
                "event_id": f"load-{uuid.uuid4().hex}",
                "user_id": f"user-{random.randrange(EVENT_USERS)}",
                "item_id": f"s{random.randrange(ITEMS)}",
                "event_type": random.choice(TYPES),
            }
            for _ in range(BATCH)
        ]
        with self.client.post(
            f"{API}/events/bulk/", json={"events": batch}, headers=HEADERS, name="events", catch_response=True
        ) as response:
            if response.status_code in (200, 201):
                ACCEPTED.extend(event["event_id"] for event in batch)
            else:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")


@events.test_stop.add_listener
def write_accepted(**_kwargs) -> None:
    path = os.environ.get("LOAD_ACCEPTED")
    if path:
        with open(path, "w") as out:
            out.writelines(f"{event_id}\n" for event_id in ACCEPTED)
