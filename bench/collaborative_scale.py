"""Collaborative fitting at scale: reading a tenant's events, ALS and item-KNN, time and peak memory.

    python bench/collaborative_scale.py [--events 10M --items 1M --users 500k]
        [--compare-events 1M --compare-items 100k --compare-users 50k] [--reference-blocks 48]
        [--rounds 2] [--skip orm,als-1,knn-reference,compare,full] [--rebuild] [--cleanup]
    python bench/collaborative_scale.py --events 200k --items 20k --users 10k \\
        --compare-events 50k --compare-items 5k --compare-users 2k      # a run of about a minute

Two synthetic tenants shaped like a shop (``bench-collab-v2-<events>-<items>-<users>-s<seed>``):
the full size and a comparison size at which the references (the ORM's read, the hand-written item-KNN
this project used before) finish. Item popularity follows a power law (Zipf, exponent 1, over a
random order of the items); each user has a taste segment (one of 1,000 slices of the catalogue)
from which 70% of their items come, the rest from the whole catalogue; history lengths are
log-normal (median a third of the mean, a long tail of heavy users, capped at 20,000); a
quarter of events repeat the user's previous item (view, cart, purchase of one product); types
are mostly views and clicks, with purchases, ratings (1-5 stars), likes, shares and a few
dislikes. Items and users are inserted with set-based SQL, events by binary COPY into a staging
table and one INSERT (so the table has its real indexes). Tenants are kept and reused by the
next run with the same sizes and seed (``--rebuild`` makes them again, ``--cleanup`` drops them).

Each measurement runs in a child process forked for it; its peak memory is the peak resident
set above the child's start (``VmHWM`` reset through ``/proc/self/clear_refs``), so what the
parent holds (the matrix being fitted) is not counted, and neither is anything left over from a
previous measurement. ALS and implicit's item-KNN are fitted ``--rounds`` times per setting and
the fastest kept (the one least slowed by other work on the machine). Measured in the same run:

- reading the tenant's interactions (``catalogue.interactions.load_interactions``: binary COPY
  into arrays) against the ORM path it replaced (``values_list``, kept here as the reference) at
  the comparison size, with a check that both give the same arrays; and against the floor of
  any COPY reader (psycopg's COPY loop over the same statement, discarding the bytes) at both;
- ALS (``core.baselines.ImplicitALS``, the default settings: 64 factors, 15 iterations) with
  one thread and with every core, and whether the factors are identical;
- item-KNN (``core.baselines.ItemKNN``, k = 50: implicit's neighbour search) against the
  hand-written block-wise version it replaced (kept here as the reference), with one thread and
  every core; at the comparison size the two neighbour tables are compared entry by entry; at
  the full size the reference is timed on ``--reference-blocks`` of its item blocks, spread over
  the catalogue, and its whole time extrapolated (it would take hours);
- disk per million events of the interactions table with its indexes (its growth when the
  events are inserted, the table compacted with VACUUM FULL just before).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEGMENTS = 1000  # taste segments of the catalogue
SEGMENT_SHARE = 0.7  # of a user's events from their own segment
REPEAT_SHARE = 0.25  # of events on the user's previous item again
MAX_HISTORY = 20_000
DAYS = 180
# Event types and their shares; values: stars for ratings, a price for purchases.
EVENT_TYPES = {
    "view": 0.60,
    "click": 0.18,
    "add_to_cart": 0.08,
    "purchase": 0.05,
    "rating": 0.03,
    "like": 0.02,
    "share": 0.01,
    "dislike": 0.01,
    "impression": 0.02,
}
STAGE_ROWS = 1_000_000  # events per COPY into the staging table
MIB = 2**20


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def count(text: str) -> int:
    """'10M', '500k', '2000' -> a number."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 10M, 500k, 2000)")
    return int(float(match.group(1)) * {"": 1, "k": 10**3, "m": 10**6}[match.group(2).lower()])


def short(n: int) -> str:
    for unit, size in (("M", 10**6), ("k", 10**3)):
        if n >= size and n % (size // 10) == 0:
            return f"{n / size:g}{unit}"
    return str(n)


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# ---------------------------------------------------------------------------------------------
# Synthetic shop


def shop_events(n_events: int, n_items: int, n_users: int, seed: int) -> dict[str, np.ndarray]:
    """Events as arrays (user and item positions, type position in EVENT_TYPES, value, Unix
    seconds), grouped by user (the insert order does not matter to the readers)."""
    rng = np.random.default_rng(seed)
    # History lengths: log-normal, scaled to the mean, then trimmed or topped up to n_events.
    sigma = 1.5
    lengths = np.exp(rng.normal(0.0, sigma, n_users))
    lengths = np.clip(np.round(lengths * (n_events / n_users) / np.exp(sigma**2 / 2)), 1, MAX_HISTORY).astype(np.int64)
    gap = n_events - int(lengths.sum())
    while gap != 0:  # spread the difference over users at random, keeping each within bounds
        chosen = rng.integers(0, n_users, size=abs(gap))
        np.add.at(lengths, chosen, 1 if gap > 0 else -1)
        lengths = np.clip(lengths, 1, MAX_HISTORY)
        gap = n_events - int(lengths.sum())
    users = np.repeat(np.arange(n_users), lengths)
    # Popularity: Zipf over ranks, in the whole catalogue and within each segment (every
    # SEGMENTS-th rank; the top of a segment is its most popular item).
    segments = min(SEGMENTS, n_items)
    ranks = zipf_ranks(rng, n_items, n_events)
    segment_of_user = rng.integers(0, segments, size=n_users)
    local = rng.random(n_events) < SEGMENT_SHARE
    in_segment = zipf_ranks(rng, n_items // segments, n_events) * segments + segment_of_user[users]
    ranks = np.where(local & (in_segment < n_items), in_segment, ranks)
    items = rng.permutation(n_items)[ranks]  # popularity has nothing to do with the ids
    # A quarter of events repeat the user's previous item.
    first = np.r_[True, users[1:] != users[:-1]]
    repeat = (rng.random(n_events) < REPEAT_SHARE) & ~first
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(n_events)))
    items = items[source]
    types = rng.choice(len(EVENT_TYPES), size=n_events, p=np.array(list(EVENT_TYPES.values())))
    names = list(EVENT_TYPES)
    values = np.full(n_events, np.nan)
    rated = types == names.index("rating")
    values[rated] = rng.integers(1, 6, size=int(rated.sum()))
    bought = types == names.index("purchase")
    values[bought] = np.round(np.exp(rng.normal(3.0, 1.0, int(bought.sum()))), 2)
    now = time.time()
    times = now - rng.random(n_events) * DAYS * 86400
    return {"user": users, "item": items, "type": types.astype(np.int16), "value": values, "time": times}


def zipf_ranks(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``size`` ranks in [0, n) drawn with probability proportional to 1 / (rank + 1)."""
    cumulative = np.cumsum(1.0 / np.arange(1, n + 1))
    return np.minimum(np.searchsorted(cumulative / cumulative[-1], rng.random(size)), n - 1)


def slug_for(events: int, items: int, users: int, seed: int) -> str:
    return f"bench-collab-v2-{short(events)}-{short(items)}-{short(users)}-s{seed}".lower().replace(".", "p")


def sidecar(slug: str) -> Path:
    from llmrec_django.conf import llmrec_settings

    return llmrec_settings.home / "bench" / f"{slug}.json"


def drop_tenant(slug: str) -> None:
    """Delete a benchmark tenant with set-based SQL (the ORM's cascade would load every row)."""
    from django.db import connection

    from llmrec_django.models import Tenant

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return
    with connection.cursor() as cursor:
        for table in ("llmrec_django_interaction", "llmrec_django_userprofile", "llmrec_django_item"):
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
    Tenant.objects.filter(pk=tenant.pk).delete()
    sidecar(slug).unlink(missing_ok=True)


def write_binary_copy(copy: Any, columns: list[tuple[np.ndarray, str]]) -> None:
    """Rows of fixed-width columns (numpy arrays and their big-endian wire dtypes) in
    PostgreSQL's binary COPY format, built with numpy instead of a Python call per row."""
    n = len(columns[0][0])
    fields = [("count", ">i2")]
    for position, (_, wire) in enumerate(columns):
        fields += [(f"length{position}", ">i4"), (f"value{position}", wire)]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for position, (values, wire) in enumerate(columns):
        rows[f"length{position}"] = np.dtype(wire).itemsize
        rows[f"value{position}"] = values
    copy.write(rows.tobytes())


def create_tenant(slug: str, n_events: int, n_items: int, n_users: int, seed: int) -> None:
    from django.db import connection, transaction

    from llmrec_django.database.columns import read_columns
    from llmrec_django.models import Tenant

    started = time.perf_counter()
    data = shop_events(n_events, n_items, n_users, seed)
    log(f"{slug}: {n_events:,} events generated in {time.perf_counter() - started:.1f} s; inserting")
    tenant = Tenant.objects.create(slug=slug, name=f"Collaborative scale benchmark ({slug})")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO llmrec_django_item (tenant_id, external_id, title, description, category, attributes, "
            "image_url, is_active, content_hash, created_at, updated_at) SELECT %s, g::text, 'Item ' || g, '', "
            "'segment ' || (g %% 1000), '{}', '', true, md5(g::text), now(), now() FROM generate_series(0, %s) g",
            [tenant.pk, n_items - 1],
        )
        cursor.execute(
            "INSERT INTO llmrec_django_userprofile (tenant_id, external_id, profile_text, preferences, "
            "recent_queries, personalisation_enabled, profile_text_source, created_at, updated_at) "
            "SELECT %s, g::text, '', '{}', '[]', true, 'site', now(), now() FROM generate_series(0, %s) g",
            [tenant.pk, n_users - 1],
        )
    ids = {}
    for table, n in (("llmrec_django_item", n_items), ("llmrec_django_userprofile", n_users)):
        found = read_columns(
            f"SELECT external_id::int8, id FROM {table} WHERE tenant_id = %s",
            [tenant.pk],
            [("position", "int8"), ("id", "int8")],
        )
        ids[table] = np.empty(n, dtype=np.int64)
        ids[table][found["position"]] = found["id"]
    with connection.cursor() as cursor:
        # Compacted first, so that the growth is the new events' and not space freed before.
        cursor.execute("VACUUM FULL llmrec_django_interaction")
        cursor.execute("SELECT pg_total_relation_size('llmrec_django_interaction')")
        size_before = cursor.fetchone()[0]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_events (n int8, user_id int8, item_id int8, type int2, "
            "value float8, stamp timestamptz) ON COMMIT DROP"
        )
        for start in range(0, n_events, STAGE_ROWS):
            part = slice(start, min(start + STAGE_ROWS, n_events))
            micros = np.round(data["time"][part] * 1e6).astype(np.int64) - 946_684_800 * 1_000_000
            with cursor.cursor.copy("COPY bench_events FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
                write_binary_copy(
                    copy,
                    [
                        (np.arange(part.start, part.stop), ">i8"),
                        (ids["llmrec_django_userprofile"][data["user"][part]], ">i8"),
                        (ids["llmrec_django_item"][data["item"][part]], ">i8"),
                        (data["type"][part], ">i2"),
                        (data["value"][part], ">f8"),
                        (micros, ">i8"),
                    ],
                )
                copy.write(b"\xff\xff")
        log(f"{slug}: staged; inserting into the interactions table (its indexes too)")
        cursor.execute(
            "INSERT INTO llmrec_django_interaction (tenant_id, event_id, user_id, item_id, event_type, value, "
            "\"timestamp\", device, location, context, created_at) SELECT %s, 'e' || n, user_id, item_id, "
            "(%s::text[])[type + 1], NULLIF(value, 'NaN'), stamp, '', '', '{}', now() FROM bench_events ORDER BY stamp",
            [tenant.pk, list(EVENT_TYPES)],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE llmrec_django_interaction")
        cursor.execute("SELECT pg_total_relation_size('llmrec_django_interaction')")
        size_after = cursor.fetchone()[0]
    facts = {"events": n_events, "items": n_items, "users": n_users, "bytes": size_after - size_before}
    path = sidecar(slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(facts))
    log(f"{slug}: ready in {time.perf_counter() - started:.0f} s ({facts['bytes'] / MIB:,.0f} MiB on disk)")


def ensure_tenant(n_events: int, n_items: int, n_users: int, seed: int, rebuild: bool) -> tuple[int, dict]:
    from llmrec_django.models import Tenant

    slug = slug_for(n_events, n_items, n_users, seed)
    if rebuild or not sidecar(slug).exists():
        drop_tenant(slug)  # a half-made one from an interrupted run goes too
        create_tenant(slug, n_events, n_items, n_users, seed)
    else:
        log(f"{slug}: reused")
    return Tenant.objects.get(slug=slug).pk, json.loads(sidecar(slug).read_text())


# ---------------------------------------------------------------------------------------------
# Measuring in a child process


def _memory_status() -> dict[str, int]:
    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            status[key] = int(value.split()[0]) * 1024
    return status


def measured(function: Callable[[], Any]) -> tuple[float, float, Any]:
    """``(seconds, peak MiB above the start, result)`` of ``function()`` in a forked child."""
    from django.db import connections

    connections.close_all()  # the child opens its own; a shared socket would break the parent's
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # the peak starts from here
            start = _memory_status()["VmRSS"]
            began = time.perf_counter()
            result = function()
            seconds = time.perf_counter() - began
            sender.send((seconds, (_memory_status()["VmHWM"] - start) / MIB, result))
        except BaseException as exc:  # reported by the parent
            sender.send(exc)
        finally:
            sender.close()
            os._exit(0)

    process = context.Process(target=child)
    process.start()
    sender.close()
    answer = receiver.recv()
    process.join()
    if isinstance(answer, BaseException):
        raise answer
    return answer


def best_of(rounds: int, function: Callable[[], Any]) -> tuple[float, float, Any]:
    """``measured`` ``rounds`` times: the shortest time (the one least disturbed by other work
    on the machine), the highest peak and the first result."""
    runs = [measured(function) for _ in range(max(1, rounds))]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


def digest(*arrays: np.ndarray) -> str:
    hashed = hashlib.sha1()
    for array in arrays:
        hashed.update(np.ascontiguousarray(array).tobytes())
    return hashed.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# References kept from before: the ORM read and the hand-written item-KNN


def orm_load_interactions(tenant_id: int, positive_only: bool = True):
    """``load_interactions`` as it read events before (through the ORM's values_list)."""
    from llmrec_django.catalogue.interactions import Interactions
    from llmrec_django.conf import llmrec_settings
    from llmrec_django.core.interest import event_weights
    from llmrec_django.models import Interaction

    rows = list(
        Interaction.objects.for_tenant(tenant_id)
        .order_by("timestamp", "pk")
        .values_list("user_id", "item_id", "event_type", "value", "timestamp")
    )
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Interactions(empty, empty, np.zeros(0), np.zeros(0))
    users, items, types, values, stamps = zip(*rows, strict=True)
    weights = event_weights(list(types), list(values), np.zeros(len(rows)), llmrec_settings.EVENT_WEIGHTS, 0.0)
    keep = weights > 0 if positive_only else weights != 0
    return Interactions(
        user_ids=np.asarray(users, dtype=np.int64)[keep],
        item_ids=np.asarray(items, dtype=np.int64)[keep],
        weights=weights[keep],
        times=np.array([t.timestamp() for t in stamps], dtype=np.float64)[keep],
    )


BLOCK_CELLS = 1 << 24  # as in core.baselines before: dense cells per block


def hand_written_neighbours(user_items: scipy.sparse.csr_matrix, k: int, blocks: int | None = None):
    """The item-KNN neighbour table as ``core.baselines.ItemKNN.fit`` computed it before (cosine
    on the binary matrix, each column's k best, in dense blocks of items). ``blocks``: only that
    many of its blocks, spread evenly (for an estimate); returns (table, blocks done, blocks)."""
    binary = (user_items > 0).astype(np.float32)
    n_items = binary.shape[1]
    item_users = binary.T.tocsr()
    norms = np.sqrt(np.asarray(binary.sum(axis=0), dtype=np.float32).ravel())
    by_item = binary.tocsc()
    k = min(k, n_items - 1)
    block = max(1, BLOCK_CELLS // max(n_items, 1))
    starts = np.arange(0, n_items, block)
    chosen = (
        starts
        if blocks is None or blocks >= len(starts)
        else starts[np.linspace(0, len(starts) - 1, blocks).astype(int)]
    )
    rows, columns, values = [], [], []
    for start in chosen:
        stop = min(start + block, n_items)
        similarity = (item_users @ by_item[:, start:stop]).toarray()
        denominator = norms[:, None] * norms[None, start:stop]
        similarity /= np.where(denominator > 0, denominator, 1.0)
        similarity[np.arange(start, stop), np.arange(stop - start)] = 0.0
        neighbours = np.argpartition(-similarity, k - 1, axis=0)[:k]
        strength = np.take_along_axis(similarity, neighbours, axis=0)
        keep = strength > 0
        rows.append(neighbours[keep])
        columns.append(np.broadcast_to(np.arange(start, stop), neighbours.shape)[keep])
        values.append(strength[keep])
    table = scipy.sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=(n_items, n_items)
    )
    return table, len(chosen), len(starts)


# ---------------------------------------------------------------------------------------------
# The measurements


def read_statement(tenant_id: int) -> str:
    from llmrec_django.conf import llmrec_settings

    types = "{" + ",".join(llmrec_settings.EVENT_WEIGHTS) + "}"
    return (
        "SELECT id::int8, user_id::int8, item_id::int8, COALESCE(array_position("
        f"'{types}'::text[], event_type::text), 0)::int2, COALESCE(value, 'NaN')::float8, \"timestamp\" "
        f"FROM llmrec_django_interaction WHERE tenant_id = {int(tenant_id)}"
    )


def copy_floor(tenant_id: int) -> int:
    """psycopg's COPY loop over the reader's statement, the bytes thrown away: the least any
    COPY reader does. Returns the bytes."""
    from django.db import connection

    total = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({read_statement(tenant_id)}) TO STDOUT (FORMAT BINARY)") as copy:
            while chunk := copy.read():
                total += len(chunk)
    return total


def summary(data) -> dict:
    return {
        "events": len(data.user_ids),
        "digest": digest(data.user_ids, data.item_ids, data.weights, data.times),
    }


def measure_reads(label: str, tenant_id: int, with_orm: bool, results: dict) -> None:
    from llmrec_django.catalogue.interactions import load_interactions

    if with_orm:
        seconds, peak, orm = measured(lambda: summary(orm_load_interactions(tenant_id)))
        results[f"read-orm-{label}"] = {"seconds": seconds, "peak_mib": peak, **orm}
        log(f"read {label}: ORM {seconds:.2f} s, peak +{peak:,.0f} MiB ({orm['events']:,} positive events)")
    seconds, peak, bulk = measured(lambda: summary(load_interactions(tenant_id)))
    results[f"read-bulk-{label}"] = {"seconds": seconds, "peak_mib": peak, **bulk}
    log(f"read {label}: bulk {seconds:.2f} s, peak +{peak:,.0f} MiB ({bulk['events']:,} positive events)")
    seconds, peak, size = measured(lambda: copy_floor(tenant_id))
    results[f"read-copy-{label}"] = {"seconds": seconds, "peak_mib": peak, "bytes": size}
    log(f"read {label}: COPY loop alone {seconds:.2f} s ({size / MIB:,.0f} MiB on the wire)")
    if with_orm:
        same = results[f"read-orm-{label}"]["digest"] == bulk["digest"]
        results[f"read-same-{label}"] = same
        log(f"read {label}: ORM and bulk arrays identical: {same}")


def fit_matrix(tenant_id: int) -> scipy.sparse.csr_matrix:
    """The users x items confidence matrix ``catalogue.collaborative.fit_factors`` fits."""
    from llmrec_django.catalogue.interactions import load_interactions
    from llmrec_django.core.splits import interaction_matrix

    data = load_interactions(tenant_id)
    user_ids, user_rows = np.unique(data.user_ids, return_inverse=True)
    item_ids, item_columns = np.unique(data.item_ids, return_inverse=True)
    return interaction_matrix(user_rows, item_columns, len(user_ids), len(item_ids), data.weights)


def measure_als(label: str, matrix, threads: list[int], rounds: int, results: dict) -> None:
    from llmrec_django.conf import llmrec_settings
    from llmrec_django.core.baselines import ImplicitALS

    params = dict(llmrec_settings.ALS)
    digests = {}
    for n in threads:

        def fit(n: int = n) -> str:
            model = ImplicitALS(**params, seed=0, num_threads=n).fit(matrix)
            return digest(model.model.user_factors, model.model.item_factors)

        seconds, peak, digests[n] = best_of(rounds, fit)
        results[f"als-{label}-threads{n}"] = {"seconds": seconds, "peak_mib": peak}
        log(f"ALS {label} ({params}), {n or 'all'} thread(s): {seconds:.1f} s, peak +{peak:,.0f} MiB")
    if len(set(digests.values())) > 0 and len(digests) > 1:
        results[f"als-{label}-identical"] = len(set(digests.values())) == 1
        log(f"ALS {label}: factors identical across threads: {results[f'als-{label}-identical']}")


def measure_knn(
    label: str, matrix, k: int, threads: list[int], reference_blocks: int | None, rounds: int, results: dict
) -> None:
    from llmrec_django.core.baselines import ItemKNN

    folder = Path(tempfile.mkdtemp(prefix="collab-knn-"))
    for n in threads:

        def fit(n: int = n) -> int:
            table = ItemKNN(k=k, num_threads=n).fit(matrix).similarity
            scipy.sparse.save_npz(folder / f"implicit-{n}.npz", table, compressed=False)
            return int(table.nnz)

        seconds, peak, nnz = best_of(rounds, fit)
        results[f"knn-{label}-implicit-threads{n}"] = {"seconds": seconds, "peak_mib": peak, "nnz": nnz}
        log(f"item-KNN {label} implicit, {n or 'all'} thread(s): {seconds:.1f} s, peak +{peak:,.0f} MiB")
    try:
        if reference_blocks != 0:
            measure_reference_knn(label, matrix, k, reference_blocks, folder, results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_reference_knn(
    label: str, matrix, k: int, reference_blocks: int | None, folder: Path, results: dict
) -> None:
    """The hand-written item-KNN (all of it, or ``reference_blocks`` of its blocks) and, when
    whole, its agreement with implicit's table (saved by ``measure_knn`` in ``folder``)."""

    def reference() -> tuple[int, int]:
        table, done, total = hand_written_neighbours(matrix, k, reference_blocks)
        if done == total:
            scipy.sparse.save_npz(folder / "reference.npz", table, compressed=False)
        return done, total

    seconds, peak, (done, total) = measured(reference)
    whole = seconds * total / done
    results[f"knn-{label}-reference"] = {"seconds": whole, "peak_mib": peak, "blocks": done, "of": total}
    note = "" if done == total else f" (estimated from {done} of its {total} blocks, {seconds:.1f} s)"
    log(f"item-KNN {label} hand-written: {whole:.1f} s{note}, peak +{peak:,.0f} MiB")
    if done == total:
        results[f"knn-{label}-agreement"] = agreement(
            scipy.sparse.load_npz(folder / "reference.npz"),
            scipy.sparse.load_npz(folder / "implicit-1.npz"),
        )
        log(f"item-KNN {label}: {results[f'knn-{label}-agreement']}")


def agreement(reference: scipy.sparse.csr_matrix, table: scipy.sparse.csr_matrix) -> dict:
    """How far two neighbour tables (column j: j's neighbours) agree: columns with the same
    neighbours; columns with the same weights, sorted (they differ at most in which of several
    equally similar items fills the last places); the largest weight difference on shared entries."""
    reference, table = reference.tocsc(), table.tocsc()
    reference.sort_indices()
    table.sort_indices()
    same_neighbours = same_weights = 0
    for j in range(reference.shape[1]):
        a = slice(reference.indptr[j], reference.indptr[j + 1])
        b = slice(table.indptr[j], table.indptr[j + 1])
        same_neighbours += np.array_equal(reference.indices[a], table.indices[b])
        ours, theirs = np.sort(reference.data[a]), np.sort(table.data[b])
        same_weights += len(ours) == len(theirs) and np.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    gap = abs(reference.multiply(table > 0) - table.multiply(reference > 0))
    return {
        "columns": reference.shape[1],
        "same_neighbours": int(same_neighbours),
        "same_weights": int(same_weights),
        "max_weight_difference": float(gap.max()) if gap.nnz else 0.0,
    }


def machine() -> str:
    import implicit
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, no GPU used; PostgreSQL {server} "
        f"(shared_buffers {buffers}); implicit {implicit.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}"
    )


def report(results: dict, full: dict, compare: dict) -> None:
    def ratio(a: str, b: str) -> str:
        return f"{results[a]['seconds'] / results[b]['seconds']:.1f}x" if a in results and b in results else "-"

    print("\n== summary ==")
    print(machine())
    for label, facts in (("compare", compare), ("full", full)):
        if facts is None:
            continue
        print(
            f"\n{label}: {facts['events']:,} events, {facts['items']:,} items, {facts['users']:,} users; "
            f"interactions table with its indexes: {facts['bytes'] / facts['events'] * 1e6 / MIB:,.0f} MiB per million events"
        )
        rows = [(key, value) for key, value in results.items() if f"-{label}" in key and isinstance(value, dict)]
        for key, value in rows:
            if "seconds" in value:
                extra = (
                    ""
                    if "blocks" not in value or value["blocks"] == value["of"]
                    else f" (est. from {value['blocks']}/{value['of']} blocks)"
                )
                print(f"  {key:36s} {value['seconds']:9.2f} s   peak +{value['peak_mib']:8,.0f} MiB{extra}")
            else:
                print(f"  {key:36s} {value}")
        print(f"  ORM / bulk read time:            {ratio(f'read-orm-{label}', f'read-bulk-{label}')}")
        print(f"  bulk / COPY loop alone:          {ratio(f'read-bulk-{label}', f'read-copy-{label}')}")
        print(f"  ALS 1 thread / all cores:        {ratio(f'als-{label}-threads1', f'als-{label}-threads0')}")
        print(
            f"  item-KNN hand-written / implicit (1 thread): {ratio(f'knn-{label}-reference', f'knn-{label}-implicit-threads1')}"
        )
        print(
            f"  item-KNN hand-written / implicit (all):      {ratio(f'knn-{label}-reference', f'knn-{label}-implicit-threads0')}"
        )
        for key in (f"read-same-{label}", f"als-{label}-identical"):
            if key in results:
                print(f"  {key}: {results[key]}")
    print("\n" + json.dumps(results, default=float))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=count, default=10_000_000)
    parser.add_argument("--items", type=count, default=1_000_000)
    parser.add_argument("--users", type=count, default=500_000)
    parser.add_argument("--compare-events", type=count, default=1_000_000)
    parser.add_argument("--compare-items", type=count, default=100_000)
    parser.add_argument("--compare-users", type=count, default=50_000)
    parser.add_argument("--k", type=int, default=50, help="item-KNN neighbours (ITEM_KNN_NEIGHBOURS)")
    parser.add_argument(
        "--reference-blocks", type=int, default=48, help="blocks of the hand-written item-KNN timed at the full size"
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated: orm, als-1, knn-reference, full, compare (what not to measure)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="fits of ALS and implicit's item-KNN per setting (the fastest is kept)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--cleanup", action="store_true", help="drop every benchmark tenant of this script and stop")
    args = parser.parse_args()
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    setup_django()
    if args.cleanup:
        from llmrec_django.models import Tenant

        for slug in Tenant.objects.filter(slug__startswith="bench-collab-").values_list("slug", flat=True):
            drop_tenant(slug)
            log(f"dropped {slug}")
        return
    log(machine())
    results: dict = {}
    threads = [1, 0] if "als-1" not in skip else [0]
    compare = full = None
    if "compare" not in skip:
        tenant_id, compare = ensure_tenant(
            args.compare_events, args.compare_items, args.compare_users, args.seed, args.rebuild
        )
        measure_reads("compare", tenant_id, "orm" not in skip, results)
        matrix = fit_matrix(tenant_id)
        log(f"compare matrix: {matrix.shape[0]:,} users x {matrix.shape[1]:,} items, {matrix.nnz:,} cells")
        measure_als("compare", matrix, threads, args.rounds, results)
        reference = None if "knn-reference" not in skip else 0
        measure_knn("compare", matrix, args.k, [1, 0], reference, args.rounds, results)
        del matrix
    if "full" not in skip:
        tenant_id, full = ensure_tenant(args.events, args.items, args.users, args.seed, args.rebuild)
        measure_reads("full", tenant_id, False, results)
        matrix = fit_matrix(tenant_id)
        log(f"full matrix: {matrix.shape[0]:,} users x {matrix.shape[1]:,} items, {matrix.nnz:,} cells")
        measure_als("full", matrix, threads, args.rounds, results)
        blocks = 0 if "knn-reference" in skip else args.reference_blocks
        measure_knn("full", matrix, args.k, [1, 0], blocks, args.rounds, results)
    report(results, full, compare)


if __name__ == "__main__":
    main()
