"""CPU per request, in one process: where the load test's cores go, without the load.

    python bench/request_cpu.py [--lists 300] [--batches 100] [--profile lists|events]

On the load test's tenant (10,000 items, 300 users; built once, as ``bench/load_test.py``
does), it sends ``--lists`` "for you" requests and ``--batches`` event batches of 10 through
Django's test client (the whole stack: middleware, authentication, DRF, the services) and
prints, per request, the CPU this Python process used and the CPU of the PostgreSQL backend
serving its connection (read from /proc, so the server must run on this machine, as the
embedded one does). The reference is the same requests' wall time: CPU per request is what
caps the requests a second two cores can serve.

``--profile`` prints the functions with the most cumulative time (cProfile) for one kind.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

API = "/api/llmrec/v1"


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one PostgreSQL backend process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lists", type=int, default=300)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--profile", choices=("lists", "events"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_DEBUG", "0")
    # Tasks go to a broker as in production (not run in this process), on a database of their
    # own that is emptied at the end: no worker consumes them here.
    os.environ["CELERY_BROKER_URL"] = os.environ.get("REQUEST_CPU_BROKER_URL", "redis://127.0.0.1:6379/15")
    import load_test

    load_test.setup_django()
    _, key, users = load_test.prepare(args.items, args.seed)

    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_HOST="127.0.0.1")
    rng = random.Random(args.seed)

    def one_list() -> None:
        response = client.get(f"{API}/users/user-{rng.randrange(users)}/recommendations/?k=10")
        assert response.status_code == 200, response.content[:300]

    def one_batch() -> None:
        batch = [
            {
                "event_id": f"load-{uuid.uuid4().hex}",
                "user_id": f"user-{rng.randrange(users)}",
                "item_id": f"s{rng.randrange(args.items)}",
                "event_type": rng.choice(("view", "click", "add_to_cart", "purchase", "like")),
            }
            for _ in range(10)
        ]
        response = client.post(f"{API}/events/bulk/", {"events": batch}, content_type="application/json")
        assert response.status_code in (200, 201), response.content[:300]

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    for _ in range(30):  # warm: imports, the vector matrix, caches
        one_list()
    one_batch()

    print(f"{load_test.machine()}; {args.items:,} items, {users} users")
    for name, call, n in (("list", one_list, args.lists), ("event batch (10)", one_batch, args.batches)):
        if not n:
            continue
        profiler = cProfile.Profile() if args.profile and name.startswith(args.profile[:4]) else None
        wall, cpu, pg = time.perf_counter(), time.process_time(), backend_cpu_seconds(backend)
        if profiler:
            profiler.enable()
        for _ in range(n):
            call()
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pg = backend_cpu_seconds(backend) - pg
        print(
            f"{name}: {n} requests, per request: wall {wall / n * 1000:.1f} ms, "
            f"Python CPU {cpu / n * 1000:.1f} ms, PostgreSQL CPU {pg / n * 1000:.1f} ms"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)

    from celery import current_app

    current_app.control.purge()


if __name__ == "__main__":
    main()
