"""What the order of events buys: the service with and without its sequence models, against
MostPop, item-KNN, ALS (as configured and tuned on validation) and a SASRec reference, on
ml-latest-small with a temporal leave-one-out split, all fitted in the same run on the same split.

    python bench/sequential.py [DATA_DIR] [--orders recorded[,sessions-shuffled]] [--budget 240]
                               [--variants today,transitions,full] [--json OUT]

Protocol (``llmrec_evaluate``'s, ``split="temporal", test_events=1``): each user's latest liked
movie (rating above 3 stars) is held out; the service is trained in a scratch tenant on the rest
(``evaluate_tenant``: collaborative model, sequence models, blend), and every method ranks the
whole catalogue minus the user's history. Per method: NDCG@10, HR@10 and MRR@10, and the paired
bootstrap 95 % interval of each method's relative NDCG@10 gain over the service's list without
sequence models ("today").

Variants of the service (``LLMREC`` overrides, each a full evaluation), the ablation: ``today``
(no tuning, no transitions, no sequential model: the list before this work), ``tuned`` (the
collaborative settings chosen on validation), ``transitions`` (tuned + transitions),
``sequential`` (tuned + the sequential model), ``full`` (all of them: the default settings). References: ``als_tuned`` picks
factors, regularisation and confidence weighting on each user's second-latest liked movie;
``sasrec`` is this project's implementation of SASRec (item ids only, learnt positions, causal
self-attention, full-softmax cross-entropy as in gSASRec/"SASRec+"; ``ml.sequential`` with
``text=False, time_gaps=False``), trained on the same sequences within the same budget.

Orders. MovieLens records the order in which people *rated* films on the site, in pages that
list films by title: within one sitting the next rating is often the next title alphabetically
(user 3's last eight ratings go G, O, O, R, R, S, S, Y). A model that reads titles learns that
page order, which is no taste at all. ``sessions-shuffled`` imports a second copy in which the
events inside each sitting (gaps under an hour) are put in a random order (the sitting's times
kept), so that only the order of sittings, which is behaviour, is left to learn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SESSION_GAP_SECONDS = 3600
TENANTS = {"recorded": "bench-seq", "sessions-shuffled": "bench-seq-shuffled"}
VARIANTS = {
    "today": {"SEQUENTIAL": {"ENABLED": False}, "TRANSITIONS": {"ENABLED": False}, "TUNING": {"ENABLED": False}},
    "tuned": {"SEQUENTIAL": {"ENABLED": False}, "TRANSITIONS": {"ENABLED": False}},
    "transitions": {"SEQUENTIAL": {"ENABLED": False}},
    "sequential": {"TRANSITIONS": {"ENABLED": False}},
    "full": {},
}
ALS_GRID = [
    {"factors": f, "regularization": r, "alpha": a, "iterations": 15}
    for f in (32, 64, 128)
    for r in (0.01, 0.1)
    for a in (1.0, 10.0)
]


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def shuffle_sessions(tenant, seed: int = 0) -> int:
    """Put the events inside each sitting of each user in a random order (times kept)."""
    from django.db import connection

    from llmrec_django.models import Interaction

    rows = list(
        Interaction.objects.for_tenant(tenant)
        .order_by("user_id", "timestamp", "pk")
        .values_list("pk", "user_id", "timestamp")
    )
    rng = np.random.default_rng(seed)
    updates = []
    start = 0
    for end in range(1, len(rows) + 1):
        if (
            end == len(rows)
            or rows[end][1] != rows[end - 1][1]
            or (rows[end][2] - rows[end - 1][2]).total_seconds() >= SESSION_GAP_SECONDS
        ):
            sitting = rows[start:end]
            order = rng.permutation(len(sitting))
            updates += [(sitting[j][0], sitting[k][2]) for k, j in enumerate(order)]
            start = end
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE shuffled (id bigint, ts timestamptz) ON COMMIT DROP")
        with cursor.copy("COPY shuffled (id, ts) FROM STDIN") as copy:
            for pk, stamp in updates:
                copy.write_row((pk, stamp))
        cursor.execute("UPDATE llmrec_django_interaction i SET timestamp = s.ts FROM shuffled s WHERE i.id = s.id")
    return len(updates)


def prepare(data: Path, order: str) -> None:
    from django.db import transaction

    from llmrec_django.catalogue import embedding
    from llmrec_django.catalogue.importing.movielens import import_movielens
    from llmrec_django.database import vectorstore
    from llmrec_django.models import Interaction, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug=TENANTS[order], defaults={"name": f"Sequential benchmark ({order})"})
    if not Interaction.objects.for_tenant(tenant).exists():
        import_movielens(data, tenant)
        if order == "sessions-shuffled":
            with transaction.atomic():
                print(f"  shuffled {shuffle_sessions(tenant)} events within sittings", flush=True)
    if vectorstore.active_version(tenant) is None:
        embedding.build_version_in_process(tenant)


def references(tenant_slug: str, report, budget: float, seed: int) -> dict[str, dict[int, list[int]]]:
    """Tuned ALS and SASRec lists on the report's split (same users, same masks)."""
    from llmrec_django.catalogue import sequences
    from llmrec_django.conf import llmrec_settings
    from llmrec_django.core.baselines import ImplicitALS
    from llmrec_django.core.splits import interaction_matrix
    from llmrec_django.database.tenancy import resolve_tenant
    from llmrec_django.learning.evaluation_split import EvaluationOptions, load_log, split_log
    from llmrec_django.ml.sequential import Sequences, SequentialConfig, fit_sequential
    from llmrec_django.models import Item

    source = resolve_tenant(tenant_slug)
    log = load_log(source)
    split = split_log(log, EvaluationOptions(split="temporal", test_events=1))
    users = sorted(report.relevant)
    catalogue = np.array(Item.objects.for_tenant(source).order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    active = set(Item.objects.for_tenant(source).filter(is_active=True).values_list("pk", flat=True))
    column = {int(i): j for j, i in enumerate(catalogue.tolist())}
    user_row = {int(u): r for r, u in enumerate(sorted(set(log.users.tolist())))}
    train = split.train
    seen: dict[int, set[int]] = {}
    for u, i in zip(log.users[train].tolist(), log.items[train].tolist(), strict=True):
        seen.setdefault(u, set()).add(column[i])
    blocked = [j for j, i in enumerate(catalogue.tolist()) if i not in active]

    def top(scores: np.ndarray, user: int) -> list[int]:
        scores = scores.astype(np.float64).copy()
        scores[list(seen.get(user, ()))] = -np.inf
        scores[blocked] = -np.inf
        return [int(catalogue[j]) for j in np.argsort(-scores, kind="stable")[:10]]

    out: dict[str, dict[int, list[int]]] = {}
    positive = train[log.positive[train]]
    weights = log.weights[positive]

    # ALS tuned on validation: each user's latest training positive held out of the fit.
    last: dict[int, int] = {}
    for row in positive.tolist():
        last[int(log.users[row])] = row
    fit_rows = np.array([r for r in positive.tolist() if last.get(int(log.users[r])) != r])
    valid_target = {int(log.users[r]): column[int(log.items[r])] for r in last.values()}

    def matrix(rows: np.ndarray, w: np.ndarray) -> object:
        return interaction_matrix(
            [user_row[int(u)] for u in log.users[rows]], [column[int(i)] for i in log.items[rows]],
            len(user_row), len(catalogue), w,
        )  # fmt: skip

    fit_matrix = matrix(fit_rows, log.weights[fit_rows])
    sample = sorted(valid_target)[:1000]
    best, best_params = -1.0, None
    for params in ALS_GRID:
        model = ImplicitALS(**params, seed=seed).fit(fit_matrix)
        scores = np.asarray(
            model.scores(np.array([user_row[u] for u in sample]), fit_matrix[[user_row[u] for u in sample]])
        )
        values = []
        for r, u in enumerate(sample):
            s = scores[r].copy()
            s[fit_matrix[user_row[u]].indices] = -np.inf
            rank = int((s > s[valid_target[u]]).sum())
            values.append(1 / np.log2(rank + 2) if rank < 10 else 0.0)
        if np.mean(values) > best:
            best, best_params = float(np.mean(values)), params
    full_matrix = matrix(positive, weights)
    model = ImplicitALS(**best_params, seed=seed).fit(full_matrix)
    scores = np.asarray(model.scores(np.array([user_row[u] for u in users]), full_matrix[[user_row[u] for u in users]]))
    out["als_tuned"] = {u: top(scores[r], u) for r, u in enumerate(users)}
    print(
        f"  ALS tuned on validation: {best_params} (validation NDCG@10 {best:.4f}; configured {dict(llmrec_settings.ALS)})"
    )

    # SASRec on the same engagement sequences as the service's sequential model.
    steps = sequences.load_sequence_events(source)
    cut = {int(log.users[r]): float(log.times[r]) for r in split.test.tolist()}
    held = {(int(log.users[r]), int(log.items[r])) for r in split.test.tolist()}
    keep = np.array(
        [
            t <= cut.get(u, np.inf) and (u, i) not in held
            for u, i, t in zip(steps.user_ids.tolist(), steps.item_ids.tolist(), steps.times.tolist(), strict=True)
        ]
    )
    by_user = sequences.user_sequences(
        type(steps)(steps.user_ids[keep], steps.item_ids[keep], steps.weights[keep], steps.times[keep])
    )
    row = {int(i): j + 1 for j, i in enumerate(catalogue.tolist())}
    ordered = [u for u in by_user if len(by_user[u][0]) >= 2]
    data = Sequences(
        [np.array([row[int(i)] for i in by_user[u][0]]) for u in ordered], [by_user[u][1] for u in ordered]
    )
    started = time.perf_counter()
    config = SequentialConfig(text=False, time_gaps=False, heads=1, dimension=64, layers=2, max_length=50, patience=10)
    scorer = fit_sequential(data, None, config, seed=seed, budget_seconds=budget, n_items=len(catalogue))
    print(
        f"  SASRec: {time.perf_counter() - started:.0f} s, best epoch {scorer.report['best_epoch']}, validation NDCG@10 {scorer.report['valid_ndcg@10']}"
    )
    vectors = scorer.user_vectors(
        [[row[int(i)] for i in by_user.get(u, ((), ()))[0]] for u in users],
        [list(by_user.get(u, ((), ()))[1]) for u in users],
    )
    table = scorer.table[1:]
    out["sasrec"] = {u: top(table @ vectors[r], u) for r, u in enumerate(users)}
    return out


def cold_figures(tenant_slug: str, relevant: dict, lists: dict) -> dict[str, dict[str, float]]:
    """Per method: recall@10 of held-out items nobody trained on (cold items) and NDCG@10 of users
    with at most 5 liked films in training (cold users), as ``llmrec_evaluate`` counts them."""
    from collections import Counter

    from llmrec_django.core.metrics import evaluate_lists, recall_on_items
    from llmrec_django.database.tenancy import resolve_tenant
    from llmrec_django.learning.evaluation_split import EvaluationOptions, load_log, split_log

    log = load_log(resolve_tenant(tenant_slug))
    split = split_log(log, EvaluationOptions(split="temporal", test_events=1))
    trained = set(log.items[split.train].tolist())
    cold_items = {i for items in relevant.values() for i in items if i not in trained}
    positive = split.train[log.positive[split.train]]
    counts = Counter(log.users[positive].tolist())
    cold_users = {u: relevant[u] for u in relevant if counts.get(u, 0) <= 5}
    out = {}
    for name, method_lists in lists.items():
        out[name] = {
            "cold_item_recall@10": recall_on_items(method_lists, relevant, cold_items, 10),
            "cold_user_ndcg@10": evaluate_lists(method_lists, cold_users, 10)["ndcg@10"] if cold_users else 0.0,
        }
    users_with_cold = sum(1 for items in relevant.values() if items & cold_items)
    print(
        f"\ncold: {users_with_cold} users hold out an item nobody trained on; {len(cold_users)} users have <= 5 liked films in training"
    )
    for name, figures in out.items():
        print(
            f"  {name:<22} cold-item recall@10 {figures['cold_item_recall@10']:.4f}  cold-user NDCG@10 {figures['cold_user_ndcg@10']:.4f}"
        )
    return out


def request_latency(slug: str, requests: int) -> dict[str, float]:
    """p50/p99 of ``recommend_for_user`` in the scratch tenant, over its users in turn (warm)."""
    from llmrec_django.database.tenancy import resolve_tenant
    from llmrec_django.models import UserProfile
    from llmrec_django.recommend.for_user import recommend_for_user

    tenant = resolve_tenant(slug)
    users = list(UserProfile.objects.for_tenant(tenant).order_by("pk")[:requests])
    for user in users[:20]:
        recommend_for_user(user, tenant=tenant, k=10)  # load models and caches
    times = []
    for n in range(requests):
        started = time.perf_counter()
        recommend_for_user(users[n % len(users)], tenant=tenant, k=10)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)), "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--orders", default="recorded", help="recorded, sessions-shuffled, or both (comma-separated).")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--budget", type=float, default=240.0, help="Seconds per sequential fit (service and SASRec).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--requests", type=int, default=300, help="Timed requests per variant.")
    parser.add_argument("--json")
    parser.add_argument(
        "--cold-from", help="Only print the cold-item and cold-user figures of the lists a run saved (JSON.lists)."
    )
    args = parser.parse_args()
    setup_django()
    if args.cold_from:
        saved = json.loads(Path(args.cold_from).read_text())
        relevant = {int(u): set(items) for u, items in saved["relevant"].items()}
        lists = {name: {int(u): items for u, items in by_user.items()} for name, by_user in saved["lists"].items()}
        cold_figures(TENANTS[args.orders.split(",")[0]], relevant, lists)
        return
    from django.test.utils import override_settings

    from llmrec_django.conf import llmrec_settings
    from llmrec_django.core.metrics import evaluate_lists, per_list_values, relative_gain_interval
    from llmrec_django.learning.evaluation import EvaluationOptions, drop_scratch_tenant, evaluate_tenant

    results = {}
    total = time.perf_counter()
    for order in args.orders.split(","):
        print(f"\n== {order} ==", flush=True)
        prepare(Path(args.data), order)
        lists, relevant, report, latency = {}, None, None, {}
        for variant in args.variants.split(","):
            overrides = json.loads(json.dumps(VARIANTS[variant]))
            base = dict(getattr(__import__("django.conf").conf.settings, "LLMREC", {}))
            merged = {**base}
            for key, value in overrides.items():
                merged[key] = {**dict(getattr(llmrec_settings, key)), **value}
            merged["SEQUENTIAL"] = {
                **dict(merged.get("SEQUENTIAL", llmrec_settings.SEQUENTIAL)),
                "BUDGET_SECONDS": args.budget,
            }
            started = time.perf_counter()
            with override_settings(LLMREC=merged):
                report = evaluate_tenant(
                    TENANTS[order],
                    EvaluationOptions(
                        k=10,
                        split="temporal",
                        test_events=1,
                        seed=args.seed,
                        reuse_vectors=True,
                        also_without_mmr=True,
                        scratch_slug=f"{TENANTS[order]}-{variant}",
                        keep_scratch=True,
                    ),
                )
                latency[variant] = request_latency(f"{TENANTS[order]}-{variant}", args.requests)
            drop_scratch_tenant(f"{TENANTS[order]}-{variant}")
            print(
                f"  {variant}: {time.perf_counter() - started:.0f} s; blend {report.blend and report.blend['metrics'].get('choice')}",
                flush=True,
            )
            lists[variant] = report.lists["hybrid"]
            lists[f"{variant} (no MMR)"] = report.lists["hybrid_no_mmr"]
            if args.json:  # kept as they come: a later failure loses no finished evaluation
                Path(f"{args.json}.lists").write_text(
                    json.dumps({"relevant": {u: sorted(v) for u, v in report.relevant.items()}, "lists": lists})
                )
            relevant = report.relevant
            for name in ("most_popular", "item_knn", "als"):
                lists[name] = report.lists[name]
        lists.update(references(TENANTS[order], report, args.budget, args.seed))
        rows = {}
        base = "today" if "today" in lists else next(iter(lists))
        base_values = per_list_values(lists[base], relevant, 10, "ndcg")
        users = sorted(base_values)
        for name, method_lists in lists.items():
            metrics = evaluate_lists(method_lists, relevant, 10)
            values = per_list_values(method_lists, relevant, 10, "ndcg")
            interval = relative_gain_interval([base_values[u] for u in users], [values[u] for u in users])
            rows[name] = {
                "ndcg@10": metrics["ndcg@10"],
                "hit_rate@10": metrics["hit_rate@10"],
                "mrr@10": metrics["mrr@10"],
                "gain_vs_today": interval,
            }
        print(f"\n{'method':<14} {'NDCG@10':>8} {'HR@10':>7} {'MRR@10':>7}  NDCG@10 vs {base} (95% CI)")
        base_ndcg = rows[base]["ndcg@10"]
        for name, row in rows.items():
            ci = row["gain_vs_today"]
            ci_text = f"{row['ndcg@10'] / base_ndcg:.2f}x [{ci[0]:+.0%}, {ci[1]:+.0%}]" if ci and base_ndcg else "-"
            print(f"{name:<14} {row['ndcg@10']:8.4f} {row['hit_rate@10']:7.4f} {row['mrr@10']:7.4f}  {ci_text}")
        print("\nserving (recommend_for_user, k=10, one process, warm):")
        for variant, figures in latency.items():
            ratio = figures["p99_ms"] / latency["today"]["p99_ms"] if "today" in latency else float("nan")
            print(
                f"  {variant:<12} p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms ({ratio:.2f}x today's p99)"
            )
        cold = cold_figures(TENANTS[order], relevant, lists)
        results[order] = {"users": len(relevant), "methods": rows, "latency": latency, "cold": cold}
    from llmrec_django.learning.evaluation import machine_info

    print(f"\nmachine: {machine_info()}; total {time.perf_counter() - total:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
