"""Serving latency of the recommend service at 10k, 100k and 1M items, against exact search.

    python bench/serving_latency.py [--sizes 10k,100k,1M] [--ef 40,100,200] [--rebuild] [--cleanup]

For each size N a tenant of its own (``bench-serve-<N>``) holds N synthetic items with 384-d unit
vectors drawn around 1,000 cluster centres, each cluster spread over a 32-d subspace of its own
plus a little isotropic noise (low intrinsic dimension, as real text embeddings have; uniform
noise would make ANN needlessly hard and unrealistic). Items are imported with ``import_items``,
vectors written with ``vectorstore.write_item_vectors`` (binary COPY), the HNSW index built with
``build_index(concurrently=True)`` and the version activated. A few hundred users with events
on items of their favourite clusters get interest vectors from ``compute_user_vectors``, so
``recommend_for_user`` runs its whole path (vector candidates, popularity, KG, rules, MMR). The
tenant is kept and reused by the next run with the same N and seed (``--rebuild`` forces a new
one, ``--cleanup`` drops them all).

Measured in the same run, per N, on queries drawn near the cluster centres (not catalogue items):

- ``nearest_items`` k=10 through the HNSW index, p50/p99, for each ``--ef`` (hnsw.ef_search);
- the same queries with ``exact=True`` (a sequential scan), p50/p99 and the speed-up;
- recall@10 of the index against exact search;
- ``recommend_for_user(k=10)`` p50/p99 and the median of each phase (``timings_ms``).

Latencies are wall-clock around the Python call (Django, the transaction, SET LOCAL, the query),
as the service sees them. Each pass is repeated ``--rounds`` times and the best round is kept,
which filters out other work on the machine; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIMENSION = 384
CLUSTERS = 1000
SUBSPACE = 32  # intrinsic dimension of a cluster
USERS = 300
EVENTS_PER_USER = 20
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    # As a server runs: DEBUG keeps every query's text (a vector search's is 8 kB) and costs the
    # service 1-2 ms per call; the example site turns it on unless told otherwise.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a fresh LLMREC_HOME gets its tables and pgvector
    from django.conf import settings

    # Synthetic vectors come from no text model: users get no generated profile text to encode.
    settings.LLMREC = {**settings.LLMREC, "INTEREST_PROFILE": {"GENERATE": False}}
    from llmrec_django.conf import llmrec_settings

    llmrec_settings.reload()  # migrate's checks already read LLMREC; a plain assignment sends no signal


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Synthetic data


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Catalogue:
    centres: np.ndarray  # (CLUSTERS, DIMENSION)
    bases: np.ndarray  # (CLUSTERS, SUBSPACE, DIMENSION)
    cluster_of: np.ndarray  # (n,)


def catalogue(n: int, seed: int) -> Catalogue:
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.normal(size=(CLUSTERS, DIMENSION)))
    # Scaled so that a unit draw in the subspace has norm about 1, like the centre.
    bases = rng.normal(size=(CLUSTERS, SUBSPACE, DIMENSION)).astype(np.float32) / np.sqrt(DIMENSION * SUBSPACE)
    cluster_of = rng.integers(0, CLUSTERS, size=n)
    return Catalogue(centres, bases, cluster_of)


def around(cat: Catalogue, clusters: np.ndarray, rng: np.random.Generator, spread: float = 0.8) -> np.ndarray:
    """Unit vectors near the given clusters' centres: centre + spread * (subspace + small noise)."""
    out = np.empty((len(clusters), DIMENSION), dtype=np.float32)
    order = np.argsort(clusters, kind="stable")
    bounds = np.searchsorted(clusters[order], np.arange(CLUSTERS + 1))
    for c in range(CLUSTERS):  # one matrix product per cluster
        rows = order[bounds[c] : bounds[c + 1]]
        if len(rows) == 0:
            continue
        local = rng.standard_normal((len(rows), SUBSPACE), dtype=np.float32) @ cat.bases[c]
        noise = rng.standard_normal((len(rows), DIMENSION), dtype=np.float32) * (0.3 / np.sqrt(DIMENSION))
        out[rows] = unit_rows(cat.centres[c] + spread * (local + noise))
    return out


# ---------------------------------------------------------------------------------------------
# The benchmark tenant


def tenant_name(n: int, seed: int) -> str:
    return f"Serving benchmark, {n} items, seed {seed}, data v2"


def drop_tenant(slug: str) -> None:
    """Delete a benchmark tenant with set-based SQL (the ORM's cascade would load every row)."""
    from django.db import connection

    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion, Tenant

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return
    for version in EmbeddingVersion.objects.filter(tenant=tenant):
        vectorstore.drop_index(version)
    with connection.cursor() as cursor:
        for table in ("itemvector", "uservector", "interaction", "relation", "item"):
            cursor.execute(f"DELETE FROM llmrec_django_{table} WHERE tenant_id = %s", [tenant.pk])
    tenant.delete()


def ready_tenant(n: int, label: str, seed: int, rebuild: bool, cat: Catalogue) -> tuple[object, dict]:
    """The benchmark tenant for N items, built unless a matching one exists; and build timings."""
    from django.db import connection

    from llmrec_django.catalogue import embedding
    from llmrec_django.catalogue.importing.loaders import import_events, import_items
    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion, Item, Tenant

    slug = f"bench-serve-{label.lower()}"
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None and not rebuild and tenant.name == tenant_name(n, seed):
        version = vectorstore.active_version(tenant)
        if version is not None and version.items_done == n and vectorstore.index_exists(version):
            log(f"{slug}: reusing the tenant built earlier (--rebuild to build it again)")
            return tenant, dict(version.metrics.get("bench_build", {}), reused=True)
    if tenant is not None:
        started = time.perf_counter()
        drop_tenant(slug)
        log(f"{slug}: dropped the old tenant in {time.perf_counter() - started:.1f}s")
    tenant = Tenant.objects.create(slug=slug, name=tenant_name(n, seed))
    timings: dict = {}
    rng = np.random.default_rng(seed + 1)
    build_started = time.perf_counter()

    started = time.perf_counter()
    prices = np.round(rng.uniform(2, 200, size=n), 2)
    rows = (  # (line number, row), as the file readers give them
        (
            j + 1,
            {
                "external_id": f"s{j}",
                "title": f"Synthetic item {j}",
                "description": "",
                "category": f"category-{int(cat.cluster_of[j]) % 50}",
                "attributes": {"price": float(prices[j])},
            },
        )
        for j in range(n)
    )
    import_items(rows, tenant, notify=False)
    timings["items_s"] = time.perf_counter() - started
    log(f"{slug}: {n} items imported in {timings['items_s']:.1f}s")

    started = time.perf_counter()
    vectors = around(cat, cat.cluster_of, rng)
    timings["generate_s"] = time.perf_counter() - started
    ids_hashes = dict(
        (int(external[1:]), (pk, content_hash))
        for pk, external, content_hash in Item.objects.filter(tenant=tenant).values_list(
            "pk", "external_id", "content_hash"
        )
    )
    item_pks = np.array([ids_hashes[j][0] for j in range(n)], dtype=np.int64)
    hashes = [ids_hashes[j][1] for j in range(n)]
    version = vectorstore.create_version(tenant, model_name="synthetic", model_path="-", dimension=DIMENSION)
    started = time.perf_counter()
    vectorstore.write_item_vectors(version, item_pks.tolist(), vectors, hashes)
    timings["vectors_s"] = time.perf_counter() - started
    log(f"{slug}: vectors generated in {timings['generate_s']:.1f}s, written in {timings['vectors_s']:.1f}s")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        # The graph of N 384-d vectors is about N * 2 kB; keep it in memory (see build_index).
        memory_mb = max(512, int(n * 2.5 / 1024) + 256)
        cursor.execute(f"SET maintenance_work_mem = '{memory_mb}MB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        cursor.execute("ANALYZE llmrec_django_itemvector")
    vectorstore.build_index(version, concurrently=True)
    with connection.cursor() as cursor:
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("RESET max_parallel_maintenance_workers")
        cursor.execute("SELECT pg_relation_size(%s)", [version.index_name])
        timings["index_mb"] = cursor.fetchone()[0] / 2**20
    timings["index_s"] = time.perf_counter() - started
    log(f"{slug}: HNSW index ({timings['index_mb']:.0f} MB) built in {timings['index_s']:.1f}s")

    started = time.perf_counter()
    users = rng.integers(0, CLUSTERS, size=(USERS, 2))  # two favourite clusters each
    members: dict[int, np.ndarray] = {}
    for c in np.unique(users):
        members[int(c)] = np.flatnonzero(cat.cluster_of == c)
    types = np.array(["view", "click", "add_to_cart", "purchase", "like"])
    now = time.time()
    events = []
    for u in range(USERS):
        for e in range(EVENTS_PER_USER):
            pool = members[int(users[u, e % 2])]
            if len(pool) == 0:
                continue
            j = int(pool[rng.integers(len(pool))])
            events.append(
                {
                    "event_id": f"u{u}-e{e}",
                    "user_id": f"user-{u}",
                    "item_id": f"s{j}",
                    "event_type": str(types[rng.integers(len(types))]),
                    "timestamp": now - float(rng.uniform(0, 30 * 86400)),
                    "device": ("mobile", "desktop")[e % 2],
                }
            )
    import_events(enumerate(events, 1), tenant, notify=False)
    embedding.compute_user_vectors(version)
    timings["users_s"] = time.perf_counter() - started

    version.items_total = version.items_done = n
    version.status = EmbeddingVersion.Status.READY
    version.metrics = {"bench_build": timings}
    version.save()
    vectorstore.activate_version(version)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE llmrec_django_itemvector")
        cursor.execute("ANALYZE llmrec_django_item")
        cursor.execute("ANALYZE llmrec_django_interaction")
    timings["total_s"] = time.perf_counter() - build_started
    version.metrics = {"bench_build": timings}
    version.save(update_fields=["metrics"])
    log(f"{slug}: users and events in {timings['users_s']:.1f}s; built in {timings['total_s']:.1f}s")
    return tenant, timings


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Pass:
    latencies_ms: list[float] = field(default_factory=list)
    results: list[list[int]] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


def search_pass(version, queries: np.ndarray, *, exact: bool = False, ef: int | None = None) -> Pass:
    from llmrec_django.database import vectorstore

    out = Pass()
    for query in queries:
        started = time.perf_counter()
        found = vectorstore.nearest_items(version, query, 10, exact=exact, ef_search=ef)
        out.latencies_ms.append((time.perf_counter() - started) * 1000)
        out.results.append([nb.item_id for nb in found])
    return out


def best_of(rounds: int, run) -> Pass:
    """The round with the lowest p99 (other work on the machine only ever adds latency)."""
    passes = [run() for _ in range(rounds)]
    return min(passes, key=lambda p: (p.p99, p.p50))


def recall(approximate: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact, strict=True) if e]))


def measure(tenant, cat: Catalogue, args, n: int) -> dict:
    from llmrec_django.database import vectorstore
    from llmrec_django.models import UserProfile
    from llmrec_django.recommend import recommend_for_user

    version = vectorstore.active_version(tenant)
    rng = np.random.default_rng(args.seed + 2)
    queries = around(cat, rng.integers(0, CLUSTERS, size=args.queries), rng)
    exact_count = args.exact_queries or (args.queries if n <= 100_000 else 50)
    result: dict = {"load_before": load_average()}

    search_pass(version, queries[: min(50, len(queries))])  # warm-up: caches, plans, connections
    started = time.perf_counter()
    exact = search_pass(version, queries[:exact_count], exact=True)
    result["exact_s"] = time.perf_counter() - started
    result["exact"] = exact
    log(f"N={n}: exact search over {exact_count} queries: p50 {exact.p50:.1f} ms, p99 {exact.p99:.1f} ms")
    result["ann"] = {}
    for ef in args.ef:
        ann = best_of(args.rounds, lambda ef=ef: search_pass(version, queries, ef=ef))
        rec = recall(ann.results[: len(exact.results)], exact.results)
        result["ann"][ef] = (ann, rec)
        log(f"N={n}: ANN ef_search={ef}: p50 {ann.p50:.2f} ms, p99 {ann.p99:.2f} ms, recall@10 {rec:.4f}")

    users = list(UserProfile.objects.filter(tenant=tenant).order_by("pk"))
    for user in users[:20]:
        recommend_for_user(user, tenant=tenant, k=10)  # warm-up
    calls = [users[j % len(users)] for j in range(args.recommend_calls)]

    def recommend_pass() -> Pass:
        out = Pass()
        out.phases = []  # type: ignore[attr-defined]
        for user in calls:
            started = time.perf_counter()
            listed = recommend_for_user(user, tenant=tenant, k=10)
            out.latencies_ms.append((time.perf_counter() - started) * 1000)
            out.phases.append(listed.timings_ms)  # type: ignore[attr-defined]
            out.results.append([listed.source])
        return out

    rec = best_of(args.rounds, recommend_pass)
    result["recommend"] = rec
    sources = {r[0] for r in rec.results}
    names = [name for name in rec.phases[0] if name != "total"]  # type: ignore[attr-defined]
    result["phases"] = {
        name: (
            percentile([p.get(name, 0.0) for p in rec.phases], 50),
            percentile([p.get(name, 0.0) for p in rec.phases], 99),
        )  # type: ignore[attr-defined]
        for name in names
    }
    log(
        f"N={n}: recommend_for_user p50 {rec.p50:.1f} ms, p99 {rec.p99:.1f} ms (sources {sorted(sources)}); "
        "phases p50/p99 ms: " + ", ".join(f"{k} {v[0]:.1f}/{v[1]:.1f}" for k, v in result["phases"].items())
    )
    result["load_after"] = load_average()
    return result


# ---------------------------------------------------------------------------------------------
# Report


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgvector = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared = cursor.fetchone()[0]
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), PostgreSQL {server} (shared_buffers {shared}), pgvector {pgvector}, "
        f"Python {platform.python_version()}"
    )


def print_table(rows: list[tuple[int, dict, dict]], default_ef: int) -> None:
    header = (
        f"{'N':>9} {'build s':>8} {'ANN p50':>8} {'ANN p99':>8} {'exact p50':>10} {'exact p99':>10} "
        f"{'speed-up':>8} {'recall':>7} {'rec p50':>8} {'rec p99':>8}  load (1/5/15 min)"
    )
    print("\nlatencies in ms; ANN at ef_search =", default_ef, "(the default); speed-up = exact p50 / ANN p50")
    print(header)
    for n, build, result in rows:
        ann, rec = result["ann"][default_ef]
        exact = result["exact"]
        build_s = f"{build.get('total_s', float('nan')):.0f}" + ("*" if build.get("reused") else "")
        print(
            f"{n:>9} {build_s:>8} {ann.p50:>8.2f} {ann.p99:>8.2f} {exact.p50:>10.1f} {exact.p99:>10.1f} "
            f"{exact.p50 / ann.p50:>7.0f}x {rec:>7.4f} {result['recommend'].p50:>8.1f} "
            f"{result['recommend'].p99:>8.1f}  {result['load_after']}"
        )
    print("(* reused tenant: the build time is the one measured when it was built)")
    print("\nef_search trade-off (k=10):")
    print(f"{'N':>9} {'ef':>5} {'p50':>8} {'p99':>8} {'recall@10':>10}")
    for n, _, result in rows:
        for ef, (ann, rec) in sorted(result["ann"].items()):
            print(f"{n:>9} {ef:>5} {ann.p50:>8.2f} {ann.p99:>8.2f} {rec:>10.4f}")
    print("\nbuild phases (s):")
    for n, build, _ in rows:
        order = ("items_s", "generate_s", "vectors_s", "index_s", "index_mb", "users_s", "total_s")
        parts = ", ".join(f"{k} {build[k]:.1f}" for k in order if k in build)
        print(f"{n:>9}: {parts}")
    print("\nrecommend_for_user phases, p50/p99 ms:")
    for n, _, result in rows:
        print(f"{n:>9}: " + ", ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in result["phases"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1M", help="Comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ef", default="40,100,200", help="hnsw.ef_search values to try")
    parser.add_argument("--queries", type=int, default=500, help="ANN queries per pass")
    parser.add_argument("--exact-queries", type=int, default=0, help="Exact queries (default: all, 50 at 1M)")
    parser.add_argument("--recommend-calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="Passes per measurement; the best one is kept")
    parser.add_argument("--rebuild", action="store_true", help="Build the tenants again even if they exist")
    parser.add_argument("--cleanup", action="store_true", help="Drop the benchmark tenants and stop")
    parser.add_argument("--hnsw-m", type=int, help="HNSW m for a build (default: LLMREC HNSW_M)")
    parser.add_argument("--ef-construction", type=int, help="HNSW ef_construction for a build (default: LLMREC's)")
    args = parser.parse_args()
    args.ef = [int(x) for x in args.ef.split(",")]

    setup_django()
    from django.conf import settings
    from django.test.utils import override_settings

    from llmrec_django.conf import llmrec_settings
    from llmrec_django.models import Tenant

    index = {"HNSW_M": args.hnsw_m, "HNSW_EF_CONSTRUCTION": args.ef_construction}
    if any(index.values()):  # override_settings makes llmrec_settings read them again
        override_settings(LLMREC={**getattr(settings, "LLMREC", {}), **{k: v for k, v in index.items() if v}}).enable()

    if args.cleanup:
        for slug in Tenant.objects.filter(slug__startswith="bench-serve-").values_list("slug", flat=True):
            started = time.perf_counter()
            drop_tenant(slug)
            log(f"dropped {slug} in {time.perf_counter() - started:.1f}s")
        return

    log(f"machine: {machine()}; load average {load_average()}")
    log(f"HNSW m {llmrec_settings.HNSW_M}, ef_construction {llmrec_settings.HNSW_EF_CONSTRUCTION} (for builds)")
    rows = []
    for label in args.sizes.split(","):
        n = SIZES[label]
        cat = catalogue(n, args.seed)
        tenant, build = ready_tenant(n, label, args.seed, args.rebuild, cat)
        rows.append((n, build, measure(tenant, cat, args, n)))
        print_table(rows, int(llmrec_settings.HNSW_EF_SEARCH))


if __name__ == "__main__":
    main()
