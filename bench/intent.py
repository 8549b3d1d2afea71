"""Understanding requests: do the top results satisfy what was asked? Before and after, same run.

    python bench/intent.py [--books 2000] [--k 10] [--json OUT]

Two catalogues, each in a tenant of its own (made once, reused): the demo's sample catalogue
(``bench-intent-shop``, 322 items, films, books, outdoor and kitchen gear, a tenth in Chinese)
and ``--books`` books of goodbooks-10k (``bench-intent-books``: authors, publication year,
average rating, ratings count, language; from ``../shared/data/goodbooks-10k-meta``), embedded
with the configured encoder. The labelled requests are in ``bench/intent_requests.py`` (155:
English and Chinese, one-shot and conversations, each with the hard constraints any item listed
must satisfy, written from what the words mean).

- **after**: the service as it runs: ``search`` for one message, a conversation
  (``start_session`` then ``send_message``) for several;
- **before**: what the service did before requests were understood (``core.query_parsing``: a
  category and a price ceiling, as filters of a vector search on the whole text), on the same
  tenants and vectors.

Printed: constraint precision (the mean share of the top ``k`` items that satisfy every labelled
constraint; an empty list counts 0) per catalogue, language and kind, both ways and their ratio;
parse accuracy per slot (category, enum, number, boolean: a labelled constraint read with the
same attribute, direction and value); the parser's latency (p50, p99) and a search's; the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
BOOKS_CSV = ROOT.parent / "shared" / "data" / "goodbooks-10k-meta" / "books.csv"


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    os.environ.setdefault("LLMREC_HOME", str(ROOT / ".llmrec" / "bench"))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def machine() -> str:
    import platform

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, PostgreSQL {server}"


def prepare_shop():
    from django.core.management import call_command

    from example_site.shop.sample_catalogue import write_sample_catalogue
    from llmrec_django.catalogue import embedding
    from llmrec_django.conf import llmrec_settings
    from llmrec_django.database import vectorstore
    from llmrec_django.models import Item, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug="bench-intent-shop", defaults={"name": "Intent benchmark: shop"})
    if not Item.objects.for_tenant(tenant).exists():
        files = write_sample_catalogue(llmrec_settings.home / "bench-intent-shop")
        call_command("llmrec_import", items=str(files["items"]), tenant=tenant.slug, verbosity=0)
    if vectorstore.active_version(tenant) is None:
        embedding.build_version_in_process(tenant)
    return tenant


def prepare_books(count: int):
    from intent_requests import BOOKS_VOCABULARY

    from llmrec_django.catalogue import embedding
    from llmrec_django.database import vectorstore
    from llmrec_django.models import Item, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug="bench-intent-books", defaults={"name": "Intent benchmark: books"})
    Tenant.objects.filter(pk=tenant.pk).update(vocabulary=BOOKS_VOCABULARY)
    if not Item.objects.for_tenant(tenant).exists():
        items = []
        with BOOKS_CSV.open(encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                if n >= count:
                    break
                authors = [a.strip() for a in row["authors"].split(",") if a.strip()]
                attributes = {"authors": authors, "language_code": row["language_code"] or None}
                for key, kind in (
                    ("original_publication_year", int),
                    ("average_rating", float),
                    ("ratings_count", int),
                ):
                    try:
                        attributes[key] = kind(float(row[key]))
                    except ValueError:
                        pass
                title = row["title"]
                items.append(Item(tenant=tenant, external_id=f"book-{row['book_id']}", title=title, category="books",
                                  description=f"{title} by {', '.join(authors)}.",
                                  attributes={k: v for k, v in attributes.items() if v is not None}))  # fmt: skip
        Item.objects.bulk_create(items, batch_size=1000)
    if vectorstore.active_version(tenant) is None:
        embedding.build_version_in_process(tenant)
    return tenant


# --- the truth, checked on the items themselves -------------------------------------------------


def parse_truth(truth: str) -> list[tuple[str, str, object]]:
    parsed = []
    for part in truth.split(";"):
        part = part.strip()
        for op in ("<=", ">=", "!=", "<", ">", "="):
            if op in part:
                name, value = (x.strip() for x in part.split(op, 1))
                if op in ("=", "!="):
                    if value in ("true", "false"):
                        parsed.append((name, op, value == "true"))
                    else:
                        parsed.append((name, op, [v.strip() for v in value.split(",")]))
                else:
                    parsed.append((name, op, float(value)))
                break
    return parsed


def satisfies(attributes: dict, category: str, truth) -> bool:
    for name, op, value in truth:
        actual = category if name == "category" else (attributes or {}).get(name)
        if isinstance(value, bool):
            if (actual is True) != value and not (value is False and actual is None):
                return False
        elif isinstance(value, list):
            found = {str(v).lower() for v in (actual if isinstance(actual, list) else [actual]) if v is not None}
            hit = bool(found & {v.lower() for v in value})
            if (op == "=" and not hit) or (op == "!=" and hit):
                return False
        else:
            if isinstance(actual, bool) or not isinstance(actual, int | float):
                return False
            if not {"<": actual < value, "<=": actual <= value, ">": actual > value, ">=": actual >= value}[op]:
                return False
    return True


def read_right(truth, intent) -> dict[str, list[bool]]:
    """Per slot kind, whether each labelled constraint was read (same attribute, direction, value)."""
    slots: dict[str, list[bool]] = {}
    for name, op, value in truth:
        kind = "category" if name == "category" else "boolean" if isinstance(value, bool) else (
            "enum" if isinstance(value, list) else "number")  # fmt: skip
        found = False
        for c in intent.constraints if intent else ():
            if c.attribute != name:
                continue
            if isinstance(value, bool):
                found = c.op == "is" and c.value is value
            elif isinstance(value, list):
                wanted = {v.lower() for v in value}
                got = {str(v).lower() for v in c.value} if isinstance(c.value, list) else set()
                found = (op == "=" and c.op == "in" and got == wanted) or (
                    op == "!=" and c.op == "not_in" and wanted <= got
                )
            else:
                same_side = (op in "<=" and c.op in ("<", "<=")) or (op in ">=" and c.op in (">", ">="))
                found = same_side and abs(float(c.value) - value) <= max(1.0, abs(value) * 0.02)
            if found:
                break
        slots.setdefault(kind, []).append(found)
    return slots


# --- the two ways ---------------------------------------------------------------------------------


def after(tenant, profile, turns: list[str], k: int):
    from llmrec_django.recommend import conversations
    from llmrec_django.recommend.text_search import search

    if len(turns) == 1:
        result = search(turns[0], tenant=tenant, k=k, remember=False)
        return result.items, result.intent
    turn = conversations.start_session(profile, message=turns[0], k=k)
    for message in turns[1:]:
        turn = conversations.send_message(turn.session, message, k=k)
    return turn.recommendations.items, turn.recommendations.intent


def before(tenant, turns: list[str], k: int):
    import numpy as np

    from llmrec_django.catalogue import embedding
    from llmrec_django.core.query_parsing import parse_query
    from llmrec_django.database import serving_data, vectorstore

    text = " ".join(turns)
    parsed = parse_query(text, serving_data.categories(tenant.pk))
    max_price = parsed.max_price
    if max_price is None and parsed.cheap:
        max_price = serving_data.cheap_price_ceiling(tenant.pk, parsed.category)
    version = vectorstore.active_version(tenant)
    vector = np.asarray(embedding.encoder_for(version).encode([text])[0], dtype=np.float32)
    found = vectorstore.nearest_items(version, vector, k, category=parsed.category, max_price=max_price)
    return [nb.item_id for nb in found]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, default=2000, help="Books of goodbooks-10k to load (first N).")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    setup_django()
    from intent_requests import REQUESTS

    from llmrec_django.core.intent import merge_intents, parse_intent
    from llmrec_django.database import caches, serving_data
    from llmrec_django.models import ConversationSession, Item, UserProfile

    tenants = {"shop": prepare_shop(), "books": prepare_books(args.books)}
    caches.clear_all()
    profiles = {
        name: UserProfile.objects.get_or_create(tenant=t, external_id="bench-intent")[0] for name, t in tenants.items()
    }
    catalogue_items = {name: list(Item.objects.for_tenant(t).filter(is_active=True)) for name, t in tenants.items()}
    rows = []
    search_ms = []
    for catalogue, language, turns, truth_text in REQUESTS:
        tenant = tenants[catalogue]
        truth = parse_truth(truth_text)
        started = time.perf_counter()
        recs, intent = after(tenant, profiles[catalogue], turns, args.k)
        if len(turns) == 1:
            search_ms.append(1000 * (time.perf_counter() - started))
        after_ids = [r.item_id for r in recs]
        before_ids = before(tenant, turns, args.k)
        items = {i.pk: i for i in Item.objects.filter(pk__in=set(after_ids) | set(before_ids))}

        def precision(ids: list[int], items=items, truth=truth) -> float:
            return sum(satisfies(items[i].attributes, items[i].category, truth) for i in ids) / len(ids) if ids else 0.0

        satisfiable = any(satisfies(i.attributes, i.category, truth) for i in catalogue_items[catalogue])
        rows.append({
            "satisfiable": satisfiable,
            "catalogue": catalogue, "language": language, "kind": "conversation" if len(turns) > 1 else "one-shot",
            "turns": turns, "truth": truth_text, "after": precision(after_ids), "before": precision(before_ids),
            "after_empty": not after_ids, "slots": read_right(truth, intent),
            "intent": intent.describe() if intent else "",
        })  # fmt: skip
    ConversationSession.objects.filter(user__in=profiles.values()).delete()

    # The parser alone: each request's turns parsed (and merged) five times.
    parse_ms = []
    for catalogue, _, turns, _ in REQUESTS:
        schema = serving_data.catalogue_schema(tenants[catalogue].pk)
        for _ in range(5):
            started = time.perf_counter()
            intent = None
            for message in turns:
                intent = merge_intents(intent, parse_intent(message, schema), schema)
            parse_ms.append(1000 * (time.perf_counter() - started))

    def mean(key: str, selected: list[dict]) -> float:
        return statistics.fmean(r[key] for r in selected) if selected else float("nan")

    impossible = [r for r in rows if not r["satisfiable"]]
    rows = [r for r in rows if r["satisfiable"]]
    print(f"{len(impossible)} labelled requests no item of their catalogue satisfies are left out: "
          + "; ".join(str(r["turns"]) for r in impossible))  # fmt: skip
    print(f"Constraint precision of the top {args.k} ({len(rows)} labelled requests; bench/intent_requests.py)")
    print(f"{'group':28s} {'n':>4s} {'before':>7s} {'after':>7s} {'ratio':>6s}")
    groups = [("all", rows)]
    for key in ("catalogue", "language", "kind"):
        for value in sorted({r[key] for r in rows}):
            groups.append((f"{key}={value}", [r for r in rows if r[key] == value]))
    for name, selected in groups:
        b, a = mean("before", selected), mean("after", selected)
        print(f"{name:28s} {len(selected):4d} {b:7.3f} {a:7.3f} {a / b if b else float('inf'):6.2f}")
    print(f"lists left empty (nothing satisfies): after {sum(r['after_empty'] for r in rows)}")
    print("\nParse accuracy per slot (labelled constraints read with the same attribute, direction, value)")
    slots: dict[str, list[bool]] = {}
    for r in rows:
        for kind, found in r["slots"].items():
            slots.setdefault(kind, []).extend(found)
    for kind, found in sorted(slots.items()):
        print(f"  {kind:9s} {sum(found):4d} / {len(found):4d} = {sum(found) / len(found):.3f}")
    every = [f for found in slots.values() for f in found]
    print(f"  {'all':9s} {sum(every):4d} / {len(every):4d} = {sum(every) / len(every):.3f}")
    print(f"\nParser: p50 {percentile(parse_ms, 0.5):.2f} ms, p99 {percentile(parse_ms, 0.99):.2f} ms per request "
          f"({len(parse_ms)} parses); search end to end: p50 {percentile(search_ms, 0.5):.1f} ms, "
          f"p99 {percentile(search_ms, 0.99):.1f} ms ({len(search_ms)} one-shot searches)")  # fmt: skip
    print(f"Machine: {machine()}")
    misses = [r for r in rows if r["after"] < 1.0]
    print(f"\nRequests with an item listed that misses a constraint ({len(misses)}):")
    for r in misses:
        print(f"  {r['after']:.2f} {r['turns']} truth: {r['truth']} | read: {r['intent']}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "parse_ms": parse_ms, "search_ms": search_ms}, indent=1))


if __name__ == "__main__":
    main()
