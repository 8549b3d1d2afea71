"""Batch recommendations: users per second of a batch run, against the same users' lists
computed one by one in a plain loop and through the REST API, measured in the same run.

    python bench/batch_throughput.py [--users 100000] [--items 20000] [--k 10] [--api-users 500]

A tenant of its own (``bench-batch``): random 384-d unit item vectors in clusters in an active
version (HNSW), synthetic users with interest vectors and 5 recent events each (all active).

1. Batch: ``recommend.batch.start_run(..., sync=True)`` in this process: selecting the active
   users, the lists in chunks of ``BATCH["CHUNK_SIZE"]`` (each logged as served, with the
   default background writer, flushed at each chunk's end), the ``BatchList`` rows, and the
   JSONL and CSV files in a storage in a temporary folder.
2. Reference, plain loop: ``recommend_for_user(user, k=k)`` for the same users, nothing kept;
   run before and after the batch, the faster kept (warm caches never favour the batch).
3. Reference, API: ``GET users/<id>/recommendations/?k=k`` through Django's test client with an
   API key for the first ``--api-users`` users (what a site without batches would call).

Prints users/s of each and the ratios batch / loop and batch / API, with the machine. On the
Celery workers the chunks run in parallel (one per worker process); this measures one process.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench-batch"
DIM = 384


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_world(args) -> tuple:
    from django.utils import timezone

    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion, Interaction, Item, Tenant, UserProfile

    Tenant.objects.filter(slug=TENANT).delete()
    tenant = Tenant.objects.create(slug=TENANT)
    rng = np.random.default_rng(0)
    Item.objects.bulk_create(
        [Item(tenant=tenant, external_id=f"i{n}", title=f"Item {n}", category=f"c{n % 20}", content_hash="x")
         for n in range(args.items)],
        batch_size=5000,
    )  # fmt: skip
    items = list(Item.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    UserProfile.objects.bulk_create(
        [UserProfile(tenant=tenant, external_id=f"u{n}") for n in range(args.users)], batch_size=5000
    )
    users = list(UserProfile.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    centres = rng.normal(size=(50, DIM))
    item_vectors = centres[rng.integers(0, 50, len(items))] + 0.5 * rng.normal(size=(len(items), DIM))
    item_vectors /= np.linalg.norm(item_vectors, axis=1, keepdims=True)
    version = vectorstore.create_version(tenant, model_name="bench", model_path="/bench", dimension=DIM)
    vectorstore.write_item_vectors(version, items, item_vectors.astype(np.float32), ["x"] * len(items))
    for start in range(0, len(users), 10_000):
        part = users[start : start + 10_000]
        vectors = centres[rng.integers(0, 50, len(part))] + 0.5 * rng.normal(size=(len(part), DIM))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        vectorstore.write_user_vectors(version, part, vectors.astype(np.float32), [5] * len(part))
    t = time.perf_counter()
    vectorstore.build_index(version, concurrently=False)
    log(f"HNSW over {len(items):,} items: {time.perf_counter() - t:.1f} s")
    version.status = EmbeddingVersion.Status.READY
    version.save()
    vectorstore.activate_version(version)
    now = timezone.now()
    for start in range(0, len(users), 10_000):
        Interaction.objects.bulk_create(
            [
                Interaction(
                    tenant=tenant, event_id=f"h{u}-{j}", user_id=u, item_id=int(items[rng.integers(len(items))]),
                    event_type="view", timestamp=now - timedelta(days=int(rng.integers(1, 20))),
                )
                for u in users[start : start + 10_000]
                for j in range(5)
            ],
            batch_size=10_000,
        )  # fmt: skip
    return tenant, users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--api-users", type=int, default=500, help="Users asked through the API (reference 2).")
    parser.add_argument("--keep", action="store_true", help="Keep the bench tenant afterwards.")
    args = parser.parse_args()
    if args.users < 1 or args.items < args.k or not 1 <= args.api_users:
        parser.error("--users and --api-users must be >= 1 and --items >= --k")

    setup_django()
    import tempfile

    from django.conf import settings
    from django.core.files.storage import storages
    from rest_framework.test import APIClient

    from llmrec_django.conf import llmrec_settings
    from llmrec_django.models import ApiKey, BatchRun, Tenant, UserProfile
    from llmrec_django.recommend import batch, recommend_for_user, served_log

    files = tempfile.TemporaryDirectory(prefix="llmrec-batch-bench-")
    settings.STORAGES = {
        **settings.STORAGES,
        "bench_batch": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": files.name}},
    }
    storages.__dict__.pop("backends", None)  # the handler reads STORAGES once (as Django's tests reset it)
    storages._backends, storages._storages = None, {}
    settings.LLMREC = {
        **settings.LLMREC,
        "BATCH": {**llmrec_settings.BATCH, "STORAGE": "bench_batch"},
    }
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    llmrec_settings.reload()

    t = time.perf_counter()
    tenant, user_ids = build_world(args)
    log(
        f"World: {args.users:,} users, {args.items:,} items, {5 * args.users:,} events in {time.perf_counter() - t:.1f} s"
    )
    profiles = list(UserProfile.objects.filter(pk__in=user_ids).order_by("pk"))
    recommend_for_user(profiles[0], tenant=tenant, k=args.k)  # warm the per-process caches for all paths

    def plain_loop() -> float:
        t = time.perf_counter()
        for profile in profiles:
            recommend_for_user(profile, tenant=tenant, k=args.k)
        return time.perf_counter() - t

    # The loop before and after the batch, the faster one kept: caches warmed by either path
    # (item vectors, popularity) never favour the batch.
    loop_s = plain_loop()
    log(f"Plain loop: {len(profiles):,} users in {loop_s:.1f} s")

    t = time.perf_counter()
    run = batch.start_run(tenant, k=args.k, active_days=30, sync=True)
    batch_s = time.perf_counter() - t
    assert run.status == BatchRun.Status.DONE and run.users_done == args.users, (run.status, run.users_done)
    log(f"Batch run {run.pk}: {run.users_done:,} users in {batch_s:.1f} s; files {run.jsonl_file}, {run.csv_file}")

    again = plain_loop()
    log(f"Plain loop again: {len(profiles):,} users in {again:.1f} s")
    loop_s = min(loop_s, again)

    _, raw = ApiKey.issue(tenant, "bench", scopes=("read",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}", HTTP_X_LLMREC_TENANT=TENANT)
    asked = profiles[: args.api_users]
    t = time.perf_counter()
    for profile in asked:
        response = client.get(f"/api/llmrec/v1/users/{profile.external_id}/recommendations/?k={args.k}")
        assert response.status_code == 200, response.content[:300]
    api_s = time.perf_counter() - t
    served_log.flush()
    log(f"API: {len(asked):,} users in {api_s:.1f} s")

    batch_rate, loop_rate, api_rate = args.users / batch_s, len(profiles) / loop_s, len(asked) / api_s
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    print(f"users {args.users:,}, items {args.items:,}, k {args.k}, chunk {llmrec_settings.BATCH['CHUNK_SIZE']}")
    print(f"batch run (sync, one process)   {batch_rate:8.1f} users/s  ({batch_s:.1f} s)")
    print(f"plain recommend_for_user loop   {loop_rate:8.1f} users/s  ({loop_s:.1f} s)")
    print(f"REST API, one user a request    {api_rate:8.1f} users/s  ({api_s:.1f} s, {len(asked)} users)")
    print(f"ratio batch / loop: {batch_rate / loop_rate:.2f}   batch / API: {batch_rate / api_rate:.2f}")
    if not args.keep:
        Tenant.objects.filter(pk=tenant.pk).delete()
    files.cleanup()


if __name__ == "__main__":
    main()
