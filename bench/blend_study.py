"""In-memory study of the blend on ml-latest-small: how far the hybrid's ranking could go.

    python bench/blend_study.py [--splits temporal,random] [--interest service|positive]

Runs in a minute or two where ``bench/quality.py`` (the service end to end) takes ten, so feature
and fitting ideas can be tried before they go into the service. Needs the ``bench-quality``
tenant that ``bench/quality.py`` imports and embeds.

For each split of ``llmrec_django.learning.evaluation`` (the same users and held-out items as the quality
benchmark), it fits the blend as ``llmrec_fit`` does (``TrainingSnapshot`` on the training part,
each user's last new item held out), then ranks every test user's candidates from a snapshot of
the whole training part, and prints NDCG@10 against item-KNN computed from the same snapshot.

``--interest positive`` builds the interest vectors from positive events without recency decay
(the service subtracts dislikes and poor ratings and decays by age: ``service``, the default);
the gap between the two is one of the open questions of the recommendation-engine issue.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TENANT = "bench-quality"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", default="temporal,random")
    parser.add_argument("--interest", choices=("service", "positive"), default="service")
    parser.add_argument("--l2", type=float, default=1.0)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    import django

    django.setup()
    from llmrec_django.catalogue import collaborative
    from llmrec_django.core import ranking
    from llmrec_django.core.metrics import evaluate_lists
    from llmrec_django.core.ranking import fit_blend_cross_fitted
    from llmrec_django.learning.blend import TrainingSnapshot, hold_out_last_new_item
    from llmrec_django.learning.evaluation import EvaluationOptions, load_log, split_log
    from llmrec_django.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    log = load_log(tenant)

    def part(rows: np.ndarray, positive: bool = True) -> collaborative.Interactions:
        rows = rows[log.positive[rows]] if positive else rows[log.weights[rows] != 0]
        return collaborative.Interactions(log.users[rows], log.items[rows], log.weights[rows], log.times[rows])

    def sub(data: collaborative.Interactions, rows: np.ndarray) -> collaborative.Interactions:
        return collaborative.Interactions(
            data.user_ids[rows], data.item_ids[rows], data.weights[rows], data.times[rows]
        )

    def ndcg(lists: dict, relevant: dict) -> float:
        metrics = evaluate_lists(lists, relevant, 10)
        return metrics[next(key for key in metrics if key.startswith("ndcg"))]

    for split_name in args.splits.split(","):
        options = EvaluationOptions(split=split_name, test_fraction=0.1 if split_name == "temporal" else None)
        split = split_log(log, options)
        history: dict[int, set[int]] = defaultdict(set)
        for rows in (split.train, split.valid):
            for user, item in zip(log.users[rows].tolist(), log.items[rows].tolist(), strict=True):
                history[user].add(item)
        relevant = {u: items - history.get(u, set()) for u, items in split.relevant.items()}
        relevant = {u: items for u, items in relevant.items() if items}
        train = part(split.train)
        every = part(split.train, positive=False) if args.interest == "service" else None

        # The blend, as llmrec_fit fits it: each user's last new item held out of the training part.
        inner_rows, held_rows = hold_out_last_new_item(train)
        inner = sub(train, inner_rows)
        held = dict(zip(train.user_ids[held_rows].tolist(), train.item_ids[held_rows].tolist(), strict=True))
        inner_every = None
        if every is not None:
            cut = {int(u): float(t) for u, t in zip(train.user_ids[held_rows], train.times[held_rows], strict=True)}
            keep = np.array(
                [
                    t < cut.get(u, np.inf) and held.get(u) != i
                    for u, i, t in zip(
                        every.user_ids.tolist(), every.item_ids.tolist(), every.times.tolist(), strict=True
                    )
                ],
                dtype=bool,
            )
            inner_every = sub(every, np.flatnonzero(keep))
        snapshot = TrainingSnapshot(tenant, inner, inner_every)
        features, labels = [], []
        for user, target in held.items():
            ids, rows = snapshot.features(user)
            if ids:
                features.append(rows)
                labels.append(np.array([1.0 if i == target else 0.0 for i in ids]))
        model = fit_blend_cross_fitted(features, labels, l2=args.l2, feature_names=ranking.HYBRID_FEATURES)

        snapshot = TrainingSnapshot(tenant, train, every)
        blend_lists, knn_lists = {}, {}
        for user in relevant:
            ids, rows = snapshot.features(user, exclude=history.get(user, set()))
            order = np.argsort(-model.score(rows), kind="stable")[:10] if ids else []
            blend_lists[user] = [ids[j] for j in order]
            liked = snapshot.liked.get(user, {})
            knn_lists[user] = list(snapshot.factors.neighbour_recommend(liked, 10, exclude=history.get(user, set())))
        blend, knn = ndcg(blend_lists, relevant), ndcg(knn_lists, relevant)
        weights = dict(zip(model.feature_names, np.round(model.weights, 3).tolist(), strict=True))
        print(
            f"{split_name:9s} interest={args.interest}: blend NDCG@10 {blend:.4f} / item-KNN {knn:.4f} = "
            f"{blend / knn:.3f}  ({len(relevant)} users; weights {weights})"
        )


if __name__ == "__main__":
    main()
