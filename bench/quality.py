"""Recommendation quality on MovieLens ml-latest-small: the hybrid against baselines of the same run.

    python bench/quality.py [DATA_DIR] [--k 10] [--seed 0] [--temporal-fraction 0.1] [--json OUT]

DATA_DIR defaults to ``<repo>/../shared/data/ml-latest-small``. The data set is imported once into
a tenant of its own (``bench-quality``, with ``import_movielens``) and embedded once with the
configured encoder (about a minute on 2 CPU cores); later runs reuse it. Then
``llmrec_django.learning.evaluation.evaluate_tenant`` runs twice, with the catalogue's item vectors reused:

- **temporal**: each user's most recent 10 % of liked movies (at least one) held out;
- **random**: each user's liked movies shuffled 8:1:1 into train / validation / test (seeded),
  the validation part masked at test time like the training part, as the reference figures do.

"Liked" is what the service learns from: ratings above 3 stars (``EVENT_WEIGHTS`` signs ratings
around 3), so the figures are lower than the all-ratings reference figures in the data README
(MostPop / ItemKNN / ALS NDCG@10 0.126 / 0.237 / 0.211): the task here is to find the movies a
user will *like*, with the poorly rated ones still masked as history. Both the hybrid as the
service runs it (MMR diversity re-ranking at ``MMR_LAMBDA``) and the same lists without MMR are
measured. Printed per split: the table, the ratios hybrid / best of ItemKNN and ALS on NDCG@10
(goal >= 1.05), recall@10 on cold items (held-out movies nobody rated in training; the
collaborative baselines cannot score them), and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TENANT = "bench-quality"
GOAL = 1.05


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a fresh LLMREC_HOME gets its tables and pgvector


def prepare(data: Path) -> dict:
    """The benchmark tenant with ml-latest-small imported and an active embedding version."""
    from llmrec_django.catalogue import embedding
    from llmrec_django.catalogue.importing.movielens import import_movielens
    from llmrec_django.database import vectorstore
    from llmrec_django.models import Interaction, Item, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": "Quality benchmark (MovieLens)"})
    done = {}
    if not Item.objects.for_tenant(tenant).exists() or not Interaction.objects.for_tenant(tenant).exists():
        started = time.perf_counter()
        import_movielens(data, tenant)
        done["import_seconds"] = round(time.perf_counter() - started, 1)
    if vectorstore.active_version(tenant) is None:
        started = time.perf_counter()
        embedding.build_version_in_process(tenant)
        done["embed_seconds"] = round(time.perf_counter() - started, 1)
    done.update(
        items=Item.objects.for_tenant(tenant).count(),
        events=Interaction.objects.for_tenant(tenant).count(),
    )
    return done


def machine() -> str:
    import platform

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {server}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="Random split and ALS seed.")
    parser.add_argument("--temporal-fraction", type=float, default=0.1, help="Share of each user's latest held out.")
    parser.add_argument("--json", help="Write both reports to this file.")
    args = parser.parse_args()

    setup_django()
    from llmrec_django.learning.evaluation import HYBRID, HYBRID_NO_MMR, EvaluationOptions, evaluate_tenant

    started = time.perf_counter()
    prepared = prepare(Path(args.data))
    print(f"data: {args.data}: {prepared}")
    splits = {
        "temporal": EvaluationOptions(
            k=args.k, split="temporal", test_fraction=args.temporal_fraction, seed=args.seed,
            reuse_vectors=True, also_without_mmr=True,
        ),
        "random 8:1:1": EvaluationOptions(
            k=args.k, split="random", seed=args.seed, reuse_vectors=True, also_without_mmr=True
        ),
    }  # fmt: skip
    reports = {}
    for name, options in splits.items():
        print(f"\n== {name} ==", flush=True)
        report = evaluate_tenant(TENANT, options)
        reports[name] = report
        print(report.format_table(), flush=True)

    k = args.k
    print(f"\n== summary (NDCG@{k}; goal: hybrid >= {GOAL:.2f} x the best of ItemKNN and ALS) ==")
    for name, report in reports.items():
        best, best_ndcg = report.best_baseline()
        methods = report.methods
        for variant in (HYBRID, HYBRID_NO_MMR):
            ndcg = methods[variant][f"ndcg@{k}"]
            ratio = ndcg / best_ndcg if best_ndcg else float("inf")
            verdict = "goal met" if ratio >= GOAL else "beats" if ratio > 1 else "BELOW the best baseline"
            print(f"{name:<13} {variant:<14} {ndcg:.4f} / {best} {best_ndcg:.4f} = {ratio:.3f}  ({verdict})")
        print(f"{name:<13} {report.cold_item_summary()}")
    print(f"machine: {machine()}; total {time.perf_counter() - started:.0f}s")
    if args.json:
        Path(args.json).write_text(
            json.dumps({name: report.to_dict() for name, report in reports.items()}, indent=2, default=str)
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
