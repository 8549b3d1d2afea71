"""Fit a tenant's collaborative model and the blend weights of its hybrid ranking.

python manage.py llmrec_fit                 # both, for the default tenant
python manage.py llmrec_fit --tenant shop --only blend
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.catalogue import collaborative
from llmrec_django.learning.blend import NotEnoughData, fit_ranking_model
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options


class Command(BaseCommand):
    help = "Fit the collaborative (ALS) model and the blend weights for a tenant, and print the weights."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("--only", choices=["collaborative", "blend"], help="Fit only one of the two.")
        parser.add_argument("--max-users", type=int, help="Users sampled for the blend (LLMREC BLEND_FIT_USERS).")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        if options["only"] in (None, "collaborative"):
            record = collaborative.fit_collaborative_model(tenant)
            if record is None:
                self.stdout.write(self.style.WARNING("No positive interactions: no collaborative model."))
            else:
                self.stdout.write(
                    f"Collaborative model {record.pk}: {record.n_users} users x {record.n_items} items, "
                    f"{record.n_interactions} interactions, {record.fit_seconds:.2f}s -> {record.path}"
                )
                self.stdout.write(describe_collaborative(record.params))
        if options["only"] in (None, "blend"):
            try:
                model = fit_ranking_model(tenant, max_users=options.get("max_users"))
            except NotEnoughData as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(describe_blend(model))
            if options["verbosity"] >= 2:
                weights = ", ".join(f"{n}={w:+.4f}" for n, w in zip(model.feature_names, model.weights, strict=True))
                self.stdout.write(f"  weights: {weights}, bias={model.bias:+.4f}")


# What each blend feature means to someone reading the log (core.ranking.HYBRID_FEATURES).
FEATURE_WORDS = {
    "relevance": "match to the user's interests",
    "collaborative": "what similar users liked",
    "item_knn": "items liked together",
    "popularity": "popular now",
    "cold_relevance": "new items by their text",
    "closest_liked": "closeness to one liked item",
    "sequential": "what comes next in the user's sequence",
    "transition": "what people chose next after the same items",
}


def describe_collaborative(params: dict) -> str:
    """The chosen settings and the sequence models, in a sentence."""
    chosen = ", ".join(
        f"{key} {params[key]}" for key in ("factors", "regularization", "alpha", "item_knn_neighbours") if key in params
    )
    tuning = params.get("tuning")
    how = (
        f"chosen on {tuning['validation']} from {len(tuning['als']) + len(tuning['item_knn'])} fits in {tuning['seconds']} s"
        if tuning and "als" in tuning
        else "as configured"
    )
    parts = [f"Settings {chosen} ({how})"]
    if "transitions" in params:
        parts.append(f"transitions between {params['transitions']['items']:,} items")
    if "sequential" in params:
        seq = params["sequential"]
        parts.append(f"a sequential model (validation NDCG@10 {seq['valid_ndcg@10']}, {seq['seconds']} s)")
    return "; ".join(parts) + "."


def describe_blend(model) -> str:
    """The fitted blend in words: each feature's share of the order (the features are
    standardised within each list, so the weights' sizes compare) and its validation figure."""
    total = sum(abs(float(w)) for w in model.weights) or 1.0
    shares = sorted(zip(model.feature_names, model.weights, strict=True), key=lambda pair: -abs(float(pair[1])))
    parts = [
        f"{FEATURE_WORDS.get(name, name)} {abs(float(w)) / total:.0%}" + (" (ranks lower)" if w < 0 else "")
        for name, w in shares
        if abs(float(w)) / total >= 0.005
    ]
    validation = model.metrics.get("validation", "held-out users")
    quality = (
        "no validation figure"
        if model.valid_auc is None
        else f"on {validation} it tells what they went on to like from the rest with AUC {model.valid_auc:.2f} "
        "(0.50 is chance, 1.00 perfect)"
    )
    choice = model.metrics.get("choice")
    if model.metrics.get("ndcg@10") and choice and not choice.startswith("blend"):
        return f"Blend {model.pk} ranks by {choice} on validation: the hybrid never ranks below its best component."
    return (
        f"Blend {model.pk} orders lists by {', '.join(parts) or 'nothing (all weights 0)'}; {quality}; "
        f"fitted on {model.metrics['users']:,} users ({model.n_train:,} rows) in {model.metrics['seconds']} s."
    )
