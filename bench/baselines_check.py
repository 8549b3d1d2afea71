"""Offline check of the collaborative baselines on MovieLens ml-latest-small.

    python bench/baselines_check.py [--data ../shared/data/ml-latest-small] [--seeds 0 1 2 3 4] [--k 10] [--bpr]

Protocol (the usual one for these reference figures): every rating is an implicit positive;
each user's ratings are shuffled and split 8:1:1 into train / validation / test
(``core.splits.random_split``); models are fitted on train; each user's full ranking of the
catalogue is cut to k after masking the items they have in train (and validation, unless
--no-mask-valid: those are history, not targets); metrics are averaged over users with test items,
then over one split per seed (the spread between splits is about +-0.005 on these figures).

Reference figures (Recall@10 / NDCG@10): MostPop 0.083 / 0.126, ItemKNN 0.175 / 0.237,
ALS 0.172 / 0.211.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmrec_django.core.baselines import ImplicitALS, ImplicitBPR, ItemKNN, MostPopular  # noqa: E402
from llmrec_django.core.metrics import evaluate_lists  # noqa: E402
from llmrec_django.core.splits import interaction_matrix, random_split  # noqa: E402

REFERENCE = {"MostPop": (0.083, 0.126), "ItemKNN(k=50)": (0.175, 0.237), "ALS(64)": (0.172, 0.211)}


def load_ratings(data_dir: Path) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Contiguous user and item indices of every rating (the file is CRLF; the csv reader copes)."""
    table = np.loadtxt(data_dir / "ratings.csv", delimiter=",", skiprows=1, usecols=(0, 1))
    _, users = np.unique(table[:, 0], return_inverse=True)
    _, items = np.unique(table[:, 1], return_inverse=True)
    return users, items, int(users.max()) + 1, int(items.max()) + 1


def evaluate_seed(
    args: argparse.Namespace, seed: int, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
):
    """One split, every model: {model name: (metrics, fit seconds, recommend seconds)}."""
    train, valid, test = random_split(users, ratios=(0.8, 0.1, 0.1), seed=seed)
    train_matrix = interaction_matrix(users[train], items[train], n_users, n_items)
    history = train if args.no_mask_valid else np.concatenate([train, valid])
    history_matrix = interaction_matrix(users[history], items[history], n_users, n_items)
    relevant: dict[int, set[int]] = {}
    for user, item in zip(users[test].tolist(), items[test].tolist(), strict=True):
        relevant.setdefault(user, set()).add(item)

    models = {
        "MostPop": MostPopular(),
        "ItemKNN(k=50)": ItemKNN(k=50),
        "ALS(64)": ImplicitALS(factors=64, regularization=0.05, iterations=15, seed=seed),
    }
    if args.bpr:
        models["BPR(64)"] = ImplicitBPR(factors=64, seed=seed)
    results = {}
    all_users = np.arange(n_users)
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(train_matrix)
        fitted = time.perf_counter()
        ids = recommend_masking_history(model, all_users, train_matrix, history_matrix, args.k)
        done = time.perf_counter()
        lists = {user: row for user, row in enumerate(ids.tolist())}
        results[name] = (evaluate_lists(lists, relevant, k=args.k, n_items=n_items), fitted - start, done - fitted)
    return results, (len(train), len(valid), len(test))


def recommend_masking_history(model, user_ids, train_matrix, history_matrix, k: int) -> np.ndarray:
    """Top k per user, scored from the training rows, with the whole known history masked.

    ``recommend()`` masks what the rows it scores from hold; here the validation items must be
    masked too while the model still scores from train alone (as the reference does)."""
    scores = np.array(model.scores(user_ids, train_matrix), dtype=np.float32)
    rows = np.repeat(np.arange(len(user_ids)), np.diff(history_matrix.indptr))
    scores[rows, history_matrix.indices] = -np.inf
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="One split per seed.")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-mask-valid", action="store_true", help="Mask only train items, not validation ones.")
    parser.add_argument("--bpr", action="store_true", help="Also run implicit's BPR.")
    args = parser.parse_args()
    k = args.k

    users, items, n_users, n_items = load_ratings(Path(args.data))
    per_seed = []
    for seed in args.seeds:
        results, sizes = evaluate_seed(args, seed, users, items, n_users, n_items)
        per_seed.append(results)
    print(
        f"{len(users):,} ratings, {n_users} users, {n_items:,} items; per split train {sizes[0]:,} / "
        f"valid {sizes[1]:,} / test {sizes[2]:,}; seeds {args.seeds}; mean (sd) over seeds\n"
    )
    header = (
        f"{'model':<14} {'Recall@' + str(k):>15} {'NDCG@' + str(k):>15} {'ref R / N':>13} "
        f"{'Prec':>6} {'HR':>6} {'Cov':>6} {'fit s':>6} {'rec s':>6}"
    )
    print(header)
    print("-" * len(header))
    for name in per_seed[0]:
        runs = [results[name] for results in per_seed]

        def stat(key: str, runs=runs) -> np.ndarray:
            return np.array([metrics[key] for metrics, _, _ in runs])

        recall, ndcg = stat(f"recall@{k}"), stat(f"ndcg@{k}")
        reference = REFERENCE.get(name)
        reference_text = f"{reference[0]:.3f} / {reference[1]:.3f}" if reference and k == 10 else ""
        print(
            f"{name:<14} {recall.mean():>7.3f} ({recall.std():.3f}) {ndcg.mean():>7.3f} ({ndcg.std():.3f}) "
            f"{reference_text:>13} {stat(f'precision@{k}').mean():>6.3f} {stat(f'hit_rate@{k}').mean():>6.3f} "
            f"{stat(f'coverage@{k}').mean():>6.3f} {np.mean([run[1] for run in runs]):>6.2f} "
            f"{np.mean([run[2] for run in runs]):>6.2f}"
        )
    users_evaluated = per_seed[0][next(iter(per_seed[0]))][0]["users"]
    print(f"\naveraged over the {users_evaluated} users with test items; times: mean wall-clock seconds per split")


if __name__ == "__main__":
    main()
