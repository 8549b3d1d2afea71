"""What online measurement costs: served-list logging and experiment assignment on the request
path, and one attribution pass, against references measured in the same run.

    python bench/online_overhead.py [--items 20000] [--users 2000] [--requests 400] [--events 100000]

A tenant of its own (``bench-online``): random 384-d unit item vectors in an active version
(HNSW), users with interest vectors and 20 events each.

1. Request path: p50/p99 of ``recommend_for_user`` (the reference: no logging) against
   ``online.serving.for_user`` with the background writer, with inline writes (the row written
   in the request), and with a two-arm experiment running (assignment lookup + logging). The
   paths take turns in blocks of 20 requests, so drift on a busy machine hits all of them alike.
2. Attribution: ``--events`` clicks on items of ``--events`` served lists, then one
   ``attribute()`` pass, against an ``INSERT ... SELECT`` of the same events into a scratch
   table (reading the events, no matching): the ratio is what the matching adds.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench-online"
DIM = 384


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def set_online(**options) -> None:
    from django.conf import settings

    from llmrec_django.conf import llmrec_settings

    settings.LLMREC = {**settings.LLMREC, "ONLINE": options}
    llmrec_settings.reload()


def build_world(args) -> tuple:
    from django.utils import timezone

    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion, Interaction, Item, Tenant, UserProfile

    Tenant.objects.filter(slug=TENANT).delete()
    tenant = Tenant.objects.create(slug=TENANT)
    rng = np.random.default_rng(0)
    Item.objects.bulk_create(
        [
            Item(tenant=tenant, external_id=f"i{n}", title=f"Item {n}", category=f"c{n % 20}", content_hash="x")
            for n in range(args.items)
        ],
        batch_size=5000,
    )
    items = list(Item.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    UserProfile.objects.bulk_create([UserProfile(tenant=tenant, external_id=f"u{n}") for n in range(args.users)])
    users = list(UserProfile.objects.filter(tenant=tenant).order_by("pk"))
    centres = rng.normal(size=(50, DIM))
    item_vectors = centres[rng.integers(0, 50, len(items))] + 0.5 * rng.normal(size=(len(items), DIM))
    item_vectors /= np.linalg.norm(item_vectors, axis=1, keepdims=True)
    version = vectorstore.create_version(tenant, model_name="bench", model_path="/bench", dimension=DIM)
    vectorstore.write_item_vectors(version, items, item_vectors.astype(np.float32), ["x"] * len(items))
    user_vectors = centres[rng.integers(0, 50, len(users))] + 0.5 * rng.normal(size=(len(users), DIM))
    user_vectors /= np.linalg.norm(user_vectors, axis=1, keepdims=True)
    vectorstore.write_user_vectors(version, [u.pk for u in users], user_vectors.astype(np.float32), [20] * len(users))
    t = time.perf_counter()
    vectorstore.build_index(version, concurrently=False)
    log(f"HNSW over {len(items):,} items: {time.perf_counter() - t:.1f} s")
    version.status = EmbeddingVersion.Status.READY
    version.save()
    vectorstore.activate_version(version)
    now = timezone.now()
    Interaction.objects.bulk_create(
        [
            Interaction(
                tenant=tenant, event_id=f"h{u.pk}-{j}", user=u, item_id=int(items[rng.integers(len(items))]),
                event_type="view", timestamp=now - timedelta(days=int(rng.integers(1, 30))),
            )
            for u in users
            for j in range(20)
        ],
        batch_size=10_000,
    )  # fmt: skip
    return tenant, users, items


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def request_path(tenant, users, args) -> dict:
    from llmrec_django.models import Experiment, ExperimentArm, ServedList
    from llmrec_django.recommend import experiments, recommend_for_user, serving
    from llmrec_django.recommend import served_log as served_log

    experiment = Experiment.objects.create(tenant=tenant, name="bench", is_active=False)
    ExperimentArm.objects.create(experiment=experiment, name="a", traffic=50, is_control=True)
    ExperimentArm.objects.create(experiment=experiment, name="b", traffic=50, strategy={"mmr_lambda": 0.6})

    def experiment_on(on: bool) -> None:
        Experiment.objects.filter(pk=experiment.pk).update(is_active=on)
        experiments.plans.clear()

    names = ["recommend_for_user (no logging)", "serving.for_user, background log", "serving.for_user, inline write",
             "serving.for_user + experiment"]  # fmt: skip

    def switch_to(name: str) -> None:
        experiment_on(name.endswith("experiment"))
        set_online(LOG_WRITES="inline" if "inline" in name else "background")

    def timed(name: str, user) -> float:
        t = time.perf_counter()
        if name.startswith("recommend"):
            recommend_for_user(user, k=10)
        else:
            serving.for_user(user, k=10)
        return (time.perf_counter() - t) * 1000

    timings: dict[str, list[float]] = {name: [] for name in names}
    block = 20
    for start in range(0, args.requests, block):
        block_users = [users[n % len(users)] for n in range(start, min(start + block, args.requests))]
        for name in names:
            switch_to(name)  # not timed: settings and the experiment cache, then one warm-up call
            timed(name, users[-1 - start % len(users)])
            timings[name] += [timed(name, user) for user in block_users]
    experiment_on(False)
    served_log.flush()
    log(f"served lists logged: {ServedList.objects.filter(tenant=tenant).count():,}")
    return timings


def attribution_pass(tenant, users, items, args) -> dict:
    from django.db import connection
    from django.utils import timezone

    from llmrec_django.learning.attribution import attribute
    from llmrec_django.models import Interaction, ServedList

    set_online(LOG_WRITES="inline", ATTRIBUTION_DELAY_SECONDS=0)
    attribute(tenant)  # the cursor past the history events
    rng = np.random.default_rng(1)
    start = timezone.now() - timedelta(hours=2)
    lists, clicks = [], []
    for n in range(args.events):
        user = users[n % len(users)]
        shown = [int(i) for i in rng.choice(items, 10, replace=False)]
        served_at = start + timedelta(seconds=n % 3600)
        lists.append(ServedList(id=uuid.uuid4(), tenant=tenant, user=user, surface="for_you", source="hybrid",
                                item_ids=shown, served_at=served_at))  # fmt: skip
        clicks.append(Interaction(tenant=tenant, event_id=f"c{n}", user=user, item_id=shown[int(rng.integers(10))],
                                  event_type="click", timestamp=served_at + timedelta(seconds=30)))  # fmt: skip
    ServedList.objects.bulk_create(lists, batch_size=10_000)
    Interaction.objects.bulk_create(clicks, batch_size=10_000)
    Interaction.objects.filter(tenant=tenant, event_id__startswith="c").update(
        created_at=timezone.now() - timedelta(minutes=1)
    )
    first = Interaction.objects.filter(tenant=tenant, event_id="c0").values_list("pk", flat=True).get()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy AS SELECT * FROM llmrec_django_interaction WITH NO DATA")
        t = time.perf_counter()
        cursor.execute(
            "INSERT INTO bench_copy SELECT * FROM llmrec_django_interaction WHERE tenant_id = %s AND id >= %s "
            "AND event_type = 'click'",
            [tenant.pk, first],
        )
        copy_seconds = time.perf_counter() - t
        cursor.execute("DROP TABLE bench_copy")
    t = time.perf_counter()
    done = attribute(tenant)[0]
    seconds = time.perf_counter() - t
    return {"events": args.events, "attributed": done.attributed, "seconds": seconds, "copy_seconds": copy_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    setup_django()
    from llmrec_django.models import Tenant

    log(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    tenant, users, items = build_world(args)
    timings = request_path(tenant, users, args)
    reference = timings["recommend_for_user (no logging)"]
    print(f"\nRequest path, {args.requests} requests each, {args.items:,} items (ms):")
    print(f"{'path':38} {'p50':>7} {'p99':>7} {'p50 / reference':>16}")
    for name, values in timings.items():
        ratio = percentile(values, 50) / percentile(reference, 50)
        print(f"{name:38} {percentile(values, 50):7.2f} {percentile(values, 99):7.2f} {ratio:16.3f}")
    result = attribution_pass(tenant, users, items, args)
    rate = result["events"] / result["seconds"]
    print(
        f"\nAttribution: {result['attributed']:,} of {result['events']:,} clicks credited in {result['seconds']:.2f} s "
        f"({rate:,.0f} events/s); plain INSERT ... SELECT of the same events {result['copy_seconds']:.2f} s "
        f"(ratio {result['seconds'] / result['copy_seconds']:.1f}x)"
    )
    log(f"load at the end {os.getloadavg()[0]:.2f}")
    Tenant.objects.filter(slug=TENANT).delete()


if __name__ == "__main__":
    main()
