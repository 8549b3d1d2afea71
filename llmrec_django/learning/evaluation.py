"""Offline evaluation: the hybrid recommender against baselines, on a split of a tenant's own log.

Usage::

    from llmrec_django.learning.evaluation import EvaluationOptions, evaluate_tenant

    report = evaluate_tenant("shop", EvaluationOptions(k=10, split="temporal", reuse_vectors=True))
    print(report.format_table())
    report.to_dict()              # every figure, JSON-safe (``llmrec_evaluate --json OUT`` writes it)

The protocol, step by step:

1. **Split.** The tenant's positive interactions (events whose ``EVENT_WEIGHTS`` weight, signed by
   the rating for ratings, is > 0: what the collaborative model learns from) are split per user:
   ``temporal`` holds out each user's last ``test_events`` of them (``core.splits.temporal_leave_last_out``),
   or the last ``test_fraction`` of them (at least one); ``random`` shuffles them 8:1:1 into
   train / validation / test (``core.splits.random_split``, seeded). Users too short for a split
   stay entirely in training. Events with no positive weight (dislikes, poor ratings, impressions)
   are training history, except, in the temporal split, those at or after the user's first
   held-out event: they are the future too, and are dropped.
2. **Train as the service would.** A scratch tenant (``<tenant>-eval``, deleted and recreated)
   gets a copy of the catalogue (items, entities, knowledge-graph edges between items and
   entities, user profiles) and **only the training events**, by set-based ``INSERT ... SELECT``.
   Edges between users and items are behaviour, not catalogue, so they are left out (the test
   could leak through them), and so are users' recent search queries. An embedding version is
   built there (``embedding.build_version_in_process``), or, with ``reuse_vectors``, the source's
   active item vectors are copied into a new version (item vectors depend on item texts only) and
   only the user vectors, the index and the recall check are computed (``embedding.finish_build``).
   Then the collaborative model and the blend are fitted on it, as ``llmrec_fit`` does; the blend
   holds out each user's last training interaction as its own validation, never the test.
3. **Recommend.** For every user with held-out items, ``recommend_for_user`` in the scratch tenant,
   with the user's whole known history (training events of every type, and the validation part of
   a random split) excluded, so every method ranks the full catalogue minus the same items. The
   request carries the context of the user's first held-out event (time of day, device,
   location): the request a returning user would make (``use_context=False`` sends none).
4. **Baselines** in the same run, on the same training events with the same confidences as the
   service's collaborative model (``core.baselines``): most-popular, item-KNN (k=50) and ALS with
   the ``LLMREC["ALS"]`` parameters; inactive items and the same history are masked.
5. **Metrics** (``core.metrics.evaluate_lists``): precision, recall, F1, NDCG, hit rate, MRR at k,
   catalogue coverage, and intra-list diversity measured with the version's item vectors for
   every method. A user's relevant items are the held-out ones not already in their history.
   Also recall@k on **cold items** (held-out items with no training interaction at all:
   ``core.metrics.recall_on_items``, averaged over the ``cold_item_users`` users who have one,
   in lists that rank the whole catalogue), with the held-out pairs it found
   (``cold_item_hits@k`` of ``cold_item_pairs``) and the share of the list places that show a
   cold item at all (``cold_item_share@k``: exposure), and the metrics of **cold users** (at
   most ``cold_user_max`` positive training interactions).
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse
from django.db import connection

from llmrec_django.catalogue import collaborative
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.baselines import BLOCK_CELLS, ImplicitALS, ItemKNN, MostPopular, Recommender
from llmrec_django.core.metrics import evaluate_lists, hits_on_items, recall_on_items
from llmrec_django.core.splits import interaction_matrix
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.learning.blend import NotEnoughData, fit_ranking_model

# The split and the scratch tenant live in their own modules; their names stay importable from here.
from llmrec_django.learning.evaluation_split import (  # noqa: F401
    BASELINES,
    HYBRID,
    HYBRID_NO_MMR,
    NO_CONTEXT,
    SCRATCH_SUFFIX,
    SPLITS,
    EvaluationOptions,
    EvaluationSplit,
    EventLog,
    Progress,
    load_log,
    split_log,
)
from llmrec_django.learning.scratch_tenant import (  # noqa: F401
    ScratchCopy,
    build_scratch_version,
    copy_to_scratch,
    drop_scratch_tenant,
    scratch_slug_for,
)
from llmrec_django.models import (
    Item,
    Tenant,
    UserProfile,
    time_of_day,
)
from llmrec_django.recommend import new_items
from llmrec_django.recommend.for_user import recommend_for_user

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Lists


def _history(log: EventLog, rows: Iterable[np.ndarray]) -> dict[int, set[int]]:
    known: dict[int, set[int]] = defaultdict(set)
    for part in rows:
        for user, item in zip(log.users[part].tolist(), log.items[part].tolist(), strict=True):
            known[user].add(item)
    return known


def _hybrid_lists(
    copy: ScratchCopy,
    profiles: Mapping[int, UserProfile],
    users: Sequence[int],
    history: Mapping[int, set[int]],
    contexts: Mapping[int, dict[str, Any]],
    k: int,
    mmr_lambda: float | None,
    sources: Counter[str],
) -> dict[int, list[int]]:
    """``recommend_for_user`` in the scratch tenant for each user, as source item ids; each
    user's whole known history excluded. ``sources`` counts hybrid lists and fallbacks (with reason)."""
    back = copy.items_back
    lists = {}
    for user in users:
        result = recommend_for_user(
            profiles[copy.users[user]],
            tenant=copy.tenant,
            k=k,
            exclude_consumed=True,
            exclude=[copy.items[i] for i in history.get(user, ())],
            mmr_lambda=mmr_lambda,
            context=contexts[user],
        )
        sources[result.source if not result.reason else f"{result.source}: {result.reason}"] += 1
        lists[user] = [back[i] for i in result.item_ids]
    return lists


def baseline_lists(
    models: Mapping[str, Recommender],
    train_matrix: scipy.sparse.csr_matrix,
    history_matrix: scipy.sparse.csr_matrix,
    rows: np.ndarray,
    blocked_columns: np.ndarray,
    k: int,
) -> dict[str, np.ndarray]:
    """Top k columns per row of ``rows`` for each (fitted) model: full ranking, scored from the
    training rows, with the row's history and ``blocked_columns`` masked."""
    n_items = train_matrix.shape[1]
    batch = max(1, BLOCK_CELLS // max(n_items, 1))
    out: dict[str, list[np.ndarray]] = {name: [] for name in models}
    for start in range(0, len(rows), batch):
        block = rows[start : start + batch]
        history = history_matrix[block]
        masked_rows = np.repeat(np.arange(len(block)), np.diff(history.indptr))
        for name, model in models.items():
            scores = np.array(model.scores(block, train_matrix[block]), dtype=np.float32)
            scores[masked_rows, history.indices] = -np.inf
            scores[:, blocked_columns] = -np.inf
            # A stable sort: ties (e.g. items nobody trained on) go to the lower column, always.
            best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            best[np.isneginf(np.take_along_axis(scores, best, axis=1))] = -1
            out[name].append(best)
    return {name: np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64) for name, parts in out.items()}


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class EvaluationReport:
    tenant: str
    scratch_tenant: str
    k: int
    options: dict[str, Any]
    split: dict[str, Any]
    methods: dict[str, dict[str, Any]]
    blend: dict[str, Any] | None
    collaborative: dict[str, Any] | None
    version: dict[str, Any]
    hybrid_sources: dict[str, int]
    timings: dict[str, float]
    machine: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    # Per method, user -> list (source item ids), and user -> held-out items: kept for checks,
    # left out of to_dict() (they are large).
    lists: dict[str, dict[int, list[int]]] = field(default_factory=dict, repr=False)
    relevant: dict[int, set[int]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in ("lists", "relevant")}

    def best_baseline(self, metric: str | None = None, among: Sequence[str] = ("item_knn", "als")) -> tuple[str, float]:
        metric = metric or f"ndcg@{self.k}"
        name = max(among, key=lambda m: self.methods[m][metric])
        return name, float(self.methods[name][metric])

    def format_table(self) -> str:
        k = self.k
        columns = [
            ("P", f"precision@{k}"),
            ("R", f"recall@{k}"),
            ("F1", f"f1@{k}"),
            ("NDCG", f"ndcg@{k}"),
            ("HR", f"hit_rate@{k}"),
            ("MRR", f"mrr@{k}"),
            ("Cov", f"coverage@{k}"),
            ("Div", f"diversity@{k}"),
            ("R cold-i", f"cold_item_recall@{k}"),
            ("NDCG cold-u", "cold_users"),
            ("R cold-u", "cold_users"),
        ]
        lines = [
            f"{self.tenant}: split {self.split['scheme']} {self._split_words()}; k={k}; "
            f"{self.methods[HYBRID]['users']} users evaluated ({self.split['cold_users']} cold users, "
            f"{self.split['cold_item_pairs']} held-out pairs on {self.split['cold_items']} cold items, "
            f"{self.split['cold_item_users']} users)",
        ]
        header = f"{'method':<13}" + "".join(f"{label:>12}" for label, _ in columns)
        lines += [header, "-" * len(header)]
        for name, metrics in self.methods.items():
            cells = []
            for label, key in columns:
                if key == "cold_users":
                    cold = metrics["cold_users"]
                    value = cold.get(f"ndcg@{k}" if label.startswith("NDCG") else f"recall@{k}", 0.0)
                else:
                    value = metrics[key]
                cells.append(f"{value:>12.4f}")
            lines.append(f"{name:<13}" + "".join(cells))
        lines.append(self.cold_item_summary())
        best, best_ndcg = self.best_baseline()
        for name in (HYBRID, HYBRID_NO_MMR):
            if name in self.methods:
                ratio = self.methods[name][f"ndcg@{k}"] / best_ndcg if best_ndcg > 0 else float("inf")
                lines.append(f"{name} / best of item_knn, als ({best}) NDCG@{k}: {ratio:.3f}")
        if self.blend:
            weights = ", ".join(
                f"{n}={w:+.3f}" for n, w in zip(self.blend["features"], self.blend["weights"], strict=True)
            )
            lines.append(f"blend: {weights}; validation AUC {self.blend.get('valid_auc')}")
        lines.append("timings (s): " + ", ".join(f"{n} {s:.1f}" for n, s in self.timings.items()))
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def cold_item_summary(self) -> str:
        """Cold-item recall@k per method with its denominators: the users it is averaged over,
        and the held-out (user, cold item) pairs found out of all of them."""
        k, split = self.k, self.split
        found = ", ".join(
            f"{name} {metrics[f'cold_item_recall@{k}']:.4f} ({metrics[f'cold_item_hits@{k}']})"
            for name, metrics in self.methods.items()
        )
        shares = ", ".join(f"{name} {metrics[f'cold_item_share@{k}']:.3f}" for name, metrics in self.methods.items())
        return (
            f"cold-item recall@{k}, mean over {split['cold_item_users']} users (pairs found of "
            f"{split['cold_item_pairs']}): {found}; share of the places showing a cold item: {shares}"
        )

    def _split_words(self) -> str:
        s = self.split
        return (
            f"({', '.join(f'{key}={value}' for key, value in s['params'].items())}): "
            f"{s['train_events']} training / {s['valid_events']} validation / {s['test_events']} held-out events"
        )


def machine_info() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return {
        "node": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "postgresql": server,
    }


# ---------------------------------------------------------------------------------------------
# The whole run


def evaluate_tenant(
    tenant: Tenant | str | None = None,
    options: EvaluationOptions | None = None,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Split, train in a scratch tenant, recommend, compare with baselines (module docstring)."""
    options = options or EvaluationOptions()
    source = resolve_tenant(tenant)
    say = progress or (lambda message: None)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    k = options.k
    log = load_log(source)
    split = split_log(log, options)
    history = _history(log, (split.train, split.valid))
    # Held-out items are new to the user by construction; the difference is a safeguard.
    relevant = {u: items - history.get(u, set()) for u, items in split.relevant.items()}
    relevant = {u: items for u, items in relevant.items() if items}
    first_test: dict[int, int] = {}  # each user's earliest held-out event: the request's context
    for row in split.test.tolist():
        user = int(log.users[row])
        if user not in first_test or log.times[row] < log.times[first_test[user]]:
            first_test[user] = row
    users = sorted(relevant)
    if options.max_users and len(users) > options.max_users:
        rng = np.random.default_rng(options.seed)
        users = sorted(rng.choice(users, size=options.max_users, replace=False).tolist())
    relevant = {u: relevant[u] for u in users}
    if not users:
        raise ValueError(f"Tenant {source.slug!r} has no user with a held-out interaction to evaluate.")
    lap("split")

    slug = scratch_slug_for(source, options)
    say(f"Copying the catalogue and {len(split.train)} training events into tenant {slug!r} ...")
    copy = copy_to_scratch(source, slug, log, split.train)
    lap("copy")
    concurrently = not connection.in_atomic_block
    say("Building the embedding version ..." + (" (reusing item vectors)" if options.reuse_vectors else ""))
    version, version_info = build_scratch_version(
        source,
        copy,
        reuse_vectors=options.reuse_vectors,
        concurrently=concurrently,
        from_version=options.vectors_version,
    )
    lap("vectors")
    say("Fitting the collaborative model and the blend ...")
    cf_record = collaborative.fit_collaborative_model(copy.tenant)
    notes = []
    try:
        blend_record = fit_ranking_model(copy.tenant, seed=options.seed)
    except NotEnoughData as exc:
        blend_record = None
        notes.append(f"no blend fitted ({exc}); the hybrid ranks by cos x R alone")
    lap("fit")

    say(f"Recommending for {len(users)} users ...")
    serving_data.clear_caches()
    new_items.clear()
    collaborative.clear_cache()
    profiles = UserProfile.objects.in_bulk([copy.users[u] for u in users])
    contexts = {}
    for user in users:
        row = first_test[user]
        context = {"time_of_day": time_of_day(log.stamps[row].hour)}
        context.update(
            {key: value for key, value in (("device", log.devices[row]), ("location", log.locations[row])) if value}
        )
        contexts[user] = context if options.use_context else dict(NO_CONTEXT)
    variants = {HYBRID: options.mmr_lambda}
    if options.also_without_mmr:
        variants[HYBRID_NO_MMR] = 1.0
    lists: dict[str, dict[int, list[int]]] = {}
    sources: Counter[str] = Counter()
    for name, mmr_lambda in variants.items():
        lists[name] = _hybrid_lists(copy, profiles, users, history, contexts, k, mmr_lambda, sources)
    lap("hybrid_lists")

    say("Baselines ...")
    catalogue = np.array(Item.objects.for_tenant(source).order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    active = set(Item.objects.for_tenant(source).filter(is_active=True).values_list("pk", flat=True))
    column = {int(i): j for j, i in enumerate(catalogue.tolist())}
    user_ids = np.array(sorted(set(log.users.tolist()) | set(users)), dtype=np.int64)
    user_row = {int(u): r for r, u in enumerate(user_ids.tolist())}

    def matrix(rows: np.ndarray, weights: np.ndarray | None) -> scipy.sparse.csr_matrix:
        return interaction_matrix(
            [user_row[int(u)] for u in log.users[rows]],
            [column[int(i)] for i in log.items[rows]],
            len(user_ids),
            len(catalogue),
            weights,
        )

    positive_train = split.train[log.positive[split.train]]
    train_matrix = matrix(positive_train, log.weights[positive_train])
    history_matrix = matrix(np.concatenate([split.train, split.valid]), None)
    als = {**dict(llmrec_settings.ALS), "seed": options.seed}  # the service's model, as fit_factors clamps it
    # The service's threads (COLLABORATIVE["THREADS"]: the factors do not depend on them), on the CPU.
    threads = int(llmrec_settings.COLLABORATIVE["THREADS"])
    models: dict[str, Recommender] = {
        "most_popular": MostPopular(),
        "item_knn": ItemKNN(k=int(llmrec_settings.ITEM_KNN_NEIGHBOURS), num_threads=threads),
        "als": ImplicitALS(
            **{**als, "factors": max(2, min(int(als["factors"]), *train_matrix.shape))}, num_threads=threads
        ),
    }
    for model in models.values():
        model.fit(train_matrix)
    inactive = np.array([j for j, i in enumerate(catalogue.tolist()) if i not in active], dtype=np.int64)
    rows = np.array([user_row[u] for u in users], dtype=np.int64)
    ranked = baseline_lists(models, train_matrix, history_matrix, rows, inactive, k)
    for name, columns in ranked.items():
        lists[name] = {
            u: [int(catalogue[c]) for c in cols if c >= 0] for u, cols in zip(users, columns.tolist(), strict=True)
        }
    lap("baselines")

    vectors_by_scratch = vectorstore.item_vectors(version, copy.items.values())
    zero = np.zeros(version.dimension, dtype=np.float32)
    item_vectors = {source_id: vectors_by_scratch.get(scratch_id, zero) for source_id, scratch_id in copy.items.items()}
    trained_items = set(log.items[split.train].tolist())
    cold_items = {int(i) for i in catalogue.tolist() if int(i) not in trained_items}
    positive_counts = Counter(log.users[positive_train].tolist())
    cold_users = [u for u in users if positive_counts.get(u, 0) <= options.cold_user_max]
    methods = {}
    for name in lists:
        metrics = evaluate_lists(lists[name], relevant, k, n_items=len(active), item_vectors=item_vectors)
        metrics[f"cold_item_recall@{k}"] = recall_on_items(lists[name], relevant, cold_items, k)
        metrics[f"cold_item_hits@{k}"] = hits_on_items(lists[name], relevant, cold_items, k)["hits"]
        # Exposure: the share of the evaluated lists' places that show a cold item, relevant or not.
        shown = [sum(1 for i in lists[name].get(u, ())[:k] if i in cold_items) / k for u in relevant]
        metrics[f"cold_item_share@{k}"] = float(np.mean(shown)) if shown else 0.0
        metrics["cold_users"] = (
            evaluate_lists(lists[name], {u: relevant[u] for u in cold_users}, k) if cold_users else {"users": 0}
        )
        methods[name] = {key: round(value, 6) if isinstance(value, float) else value for key, value in metrics.items()}
    lap("metrics")

    report = EvaluationReport(
        tenant=source.slug,
        scratch_tenant=slug,
        k=k,
        options={**asdict(options), "ratios": list(options.ratios)},
        split={
            **options.describe_split(),
            "params": {key: value for key, value in options.describe_split().items() if key != "scheme"},
            "events": len(log),
            "positive_events": int(log.positive.sum()),
            "train_events": len(split.train),
            "valid_events": len(split.valid),
            "test_events": len(split.test),
            "users_with_held_out_items": len(relevant),
            "relevant_pairs": sum(len(v) for v in relevant.values()),
            "cold_items": len(cold_items & set().union(*relevant.values())),
            "cold_item_pairs": sum(len(cold_items & v) for v in relevant.values()),
            "cold_item_users": sum(1 for v in relevant.values() if cold_items & v),
            "cold_users": len(cold_users),
            "cold_user_max": options.cold_user_max,
            "catalogue_items": len(catalogue),
            "active_items": len(active),
        },
        methods=methods,
        blend=None
        if blend_record is None
        else {
            "features": blend_record.feature_names,
            "weights": blend_record.weights,
            "bias": blend_record.bias,
            "valid_auc": blend_record.valid_auc,
            "valid_loss": blend_record.valid_loss,
            "metrics": blend_record.metrics,
        },
        collaborative=None
        if cf_record is None
        else {"params": cf_record.params, "users": cf_record.n_users, "items": cf_record.n_items},
        version={"model": version.model_name, "dimension": version.dimension, **version_info, **version.metrics},
        hybrid_sources=dict(sources),
        timings=timings,
        machine=machine_info(),
        notes=notes,
        lists=lists,
        relevant=relevant,
    )
    if not options.keep_scratch:
        drop_scratch_tenant(slug)
    timings["total"] = round(sum(timings.values()), 3)
    return report
