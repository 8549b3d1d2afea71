"""An embedding-version switch (and its rollback) under load: requests keep coming from several
threads while the active version flips back and forth; every answer is a 200 from one version,
never a mix of two."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection

from llmrec_django.database import vectorstore
from llmrec_django.models import UserProfile
from tests.api_helpers import API, api_key_client
from tests.recommend_helpers import activate, make_item, unit

pytestmark = pytest.mark.django_db(transaction=True)
SECONDS = 6.0
THREADS = 4


def test_switching_versions_under_load_never_errors_nor_mixes_them(tenant, settings):
    cache.clear()
    settings.LLMREC = {**settings.LLMREC, "SERVING_STATE_SECONDS": 0}  # every request sees a switch at once
    e0, e1 = [1.0, 0, 0, 0], [0, 1.0, 0, 0]
    a_items = [make_item(tenant, f"a{n}", f"Alpha {n}", vector=np.add(e0, [0, 0, 0.1 * n, 0])) for n in range(4)]
    b_items = [make_item(tenant, f"b{n}", f"Beta {n}", vector=np.add(e1, [0, 0, 0.1 * n, 0])) for n in range(4)]
    users = [UserProfile.objects.create(tenant=tenant, external_id=f"u{n}") for n in range(4)]
    # Version A: the users' interest lies near the alphas. Version B: the same items swapped
    # round (alphas on the other axis), so the users' nearest items are the betas.
    version_a = activate(tenant, a_items + b_items, users=[(u, e0) for u in users])
    for item in a_items:
        item.vector = unit(np.add(e1, [0, 0, 0.05, 0]))
    for item in b_items:
        item.vector = unit(np.add(e0, [0, 0, 0.05, 0]))
    version_b = activate(tenant, a_items + b_items, users=[(u, e0) for u in users])
    expected = {version_a.pk: {i.external_id for i in a_items}, version_b.pk: {i.external_id for i in b_items}}

    answers: list[tuple[int, int | None, set[str], str]] = []
    stop = threading.Event()

    def ask() -> None:
        client, _ = api_key_client(tenant)
        n = 0
        try:
            while not stop.is_set():
                response = client.get(f"{API}users/u{n % len(users)}/recommendations/", {"k": 4})
                body = response.json() if response.status_code == 200 else {}
                vector_items = {i["external_id"] for i in body.get("items", []) if "vector" in i.get("sources", [])}
                answers.append((response.status_code, body.get("version_id"), vector_items, body.get("source", "")))
                n += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    switches, started = 0, time.monotonic()
    while time.monotonic() - started < SECONDS:
        vectorstore.activate_version(version_a if switches % 2 else version_b)  # B, A (the rollback), B ...
        switches += 1
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert switches > 30 and len(answers) > 50
    assert {status for status, *_ in answers} == {200}
    served = {version for _, version, _, _ in answers}
    assert served == {version_a.pk, version_b.pk}, "both versions served during the test"
    mixed = [(version, items) for _, version, items, _ in answers if not items <= expected[version]]
    assert not mixed, mixed[:5]
    assert all(items for _, _, items, _ in answers), "every list came from its version's vectors"
