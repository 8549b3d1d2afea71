"""Locust traffic for ``bench/load_test.py``: recommendation reads and event ingestion, at fixed rates.

Not meant to be run alone (the driver prepares the data, the server, the worker and these
environment variables), but it can be, against any site with the llmrec API:

- ``LOAD_EVENT_USERS``: events come from users ``user-0`` .. ``user-N-1`` (default
  ``LOAD_USERS``; more than exist: the others are created by their first event);
- ``LOAD_API_KEY``: an API key of the tenant; ``LOAD_USERS``: how many users ``user-0`` ..
  ``user-N-1`` exist; ``LOAD_ITEMS``: items ``s0`` .. ``sN-1``;
- ``LOAD_BATCH``: events per ingestion request; ``LOAD_ACCEPTED``: a file where each accepted
  event id is written (one per line) when the test stops, so the driver can prove none was lost;
  ``LOAD_TIMINGS``: a file where every request's start (Unix time), kind and latency (ms) are
  written when the test stops, to tell queueing (slow requests spread out) from stalls (slow
  requests together).

Each ``Recommender`` sends one request a second on average, each ``Ingester`` one batch, at
random times (``poisson_arrivals``): together, the requests of many independent visitors, a
Poisson stream at the summed rate, so ``-u`` and the class weights set the rates. Not
``constant_throughput``: Locust starts up to ``-r`` users in the same instant, and users paced
to one task a second then stay in step, so every second's requests would arrive as one burst
(the load test before 2026-12-03 measured that: 70 requests at once, each second).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

import gevent
from locust import FastHttpUser, events, task

API = "/api/llmrec/v1"
HEADERS = {"Authorization": f"Api-Key {os.environ.get('LOAD_API_KEY', '')}"}
USERS = int(os.environ.get("LOAD_USERS", "300"))
EVENT_USERS = int(os.environ.get("LOAD_EVENT_USERS", str(USERS)))
ITEMS = int(os.environ.get("LOAD_ITEMS", "10000"))
BATCH = int(os.environ.get("LOAD_BATCH", "10"))
TYPES = ("view", "click", "add_to_cart", "purchase", "like")
ACCEPTED: list[str] = []
LISTS: list[tuple[bool, float]] = []  # (served from the list cache, ms) per list
TIMINGS: list[tuple[float, str, float]] = []


def poisson_arrivals(per_second: float):
    """A ``wait_time`` that starts the user's tasks at the times of a Poisson process of rate
    ``per_second`` (exponential gaps between starts, whatever the tasks take; a task that ends
    after the next start was due is followed at once, as with ``constant_throughput``)."""

    def wait_time(user) -> float:
        now = time.monotonic()
        due = getattr(user, "_next_start", None)
        due = (now if due is None else max(due, now - 1.0)) + random.expovariate(per_second)
        user._next_start = due
        return max(0.0, due - now)

    return wait_time


class SpreadStart(FastHttpUser):
    """Users whose first task starts at a random moment of their first second, not all at once."""

    abstract = True

    def on_start(self) -> None:
        gevent.sleep(random.random())


class Recommender(SpreadStart):
    """A page asking for a user's "for you" list."""

    weight = int(os.environ.get("LOAD_RECOMMENDERS", "50"))
    wait_time = poisson_arrivals(1)

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
            else:
                kept = response.headers.get("Server-Timing", "").startswith("list_cache;")
                LISTS.append((kept, response.request_meta["response_time"]))


class Ingester(SpreadStart):
    """A site's server posting what its users did, ``BATCH`` events a request."""

    weight = int(os.environ.get("LOAD_INGESTERS", "20"))
    wait_time = poisson_arrivals(1)

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


@events.request.add_listener
def keep_timing(name: str, response_time: float, **_kwargs) -> None:
    TIMINGS.append((time.time() - response_time / 1000, name, response_time))


@events.test_stop.add_listener
def write_accepted(**_kwargs) -> None:
    path = os.environ.get("LOAD_ACCEPTED")
    if path:
        with open(path, "w") as out:
            out.writelines(f"{event_id}\n" for event_id in ACCEPTED)
    path = os.environ.get("LOAD_LIST_CACHE")
    if path:
        hits = [ms for kept, ms in LISTS if kept]
        computed = [ms for kept, ms in LISTS if not kept]

        def p99(values: list[float]) -> float | None:
            return round(sorted(values)[min(len(values) - 1, int(0.99 * len(values)))], 1) if values else None

        with open(path, "w") as out:
            json.dump(
                {"lists": len(LISTS), "hits": len(hits), "hit_p99_ms": p99(hits), "computed_p99_ms": p99(computed)}, out
            )
    path = os.environ.get("LOAD_TIMINGS")
    if path:
        with open(path, "w") as out:
            out.writelines(f"{start:.4f} {name} {ms:.1f}\n" for start, name, ms in TIMINGS)
