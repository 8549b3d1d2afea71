"""Safe promotion: a trained model serves only if its offline evaluation beats the active one.

``evaluate(run)`` runs ``llmrec_django.learning.evaluation.evaluate_tenant`` twice on the same temporal
split (each user's last positive item held out: the training's validation split), in the same
call: once as the tenant serves now, once with the candidate, and stores both metric sets on the
run (``run.metrics``):

- encoder run: the active version's item vectors vs the run's new version's (the re-ranker off
  in both, so the encoder alone is compared);
- re-ranker run: the active version with the active re-ranker (or none) vs with this one.

With them: the relative gain's paired bootstrap interval over the evaluated users
(``relative_gain_interval``, at ``GAIN_CONFIDENCE``) and the split's baselines (``references``).
``compare(run, baseline, candidate)`` does the same for any two ways of serving (an embedding
version and a re-ranker folder or none, each): the benchmark's base encoder against both
fine-tuned models, say.

``decide(run)``: better by more than ``MIN_IMPROVEMENT`` (relative) on ``PROMOTION_METRIC`` (with
``REQUIRE_CONFIDENT_GAIN``: the interval's lower end above it, so that noise never switches models),
and no ``GUARDRAILS`` metric (diversity, coverage) lower than allowed:
promoted at once with ``AUTO_PROMOTE``, else left "pending" for ``promote(run)`` (the admin's
button); not better: "rejected". ``promote`` switches atomically (``vectorstore.activate_version``
for an encoder's version) and keeps the previous model for ``rollback(run)``. An encoder that
beats the active one gets its own blend first (``fit_candidate_blend``), which serves with its
version; after a switch either way the ranking models are refitted for the version that serves
(``loop.after_switch``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.metrics import PER_LIST_METRICS, per_list_values, relative_gain_interval
from llmrec_django.database import vectorstore
from llmrec_django.learning import loop
from llmrec_django.learning.blend import NotEnoughData, fit_ranking_model
from llmrec_django.learning.evaluation import HYBRID, EvaluationOptions, evaluate_tenant
from llmrec_django.models import EmbeddingVersion, RankingModel, TrainingRun
from llmrec_django.recommend import reranker
from llmrec_django.recommend import state as serving_state

logger = logging.getLogger(__name__)


REFERENCE_METHODS = ("most_popular", "item_knn", "als")


class PromotionError(RuntimeError):
    pass


# The stages of a run between its evaluation and its decision, where ``decide`` may promote it.
CANDIDATE_BLEND_STAGE = "fitting the blend for the new encoder"
DECIDING_STAGES = ("evaluating", CANDIDATE_BLEND_STAGE)


def evaluation_options(run: TrainingRun, vectors_version: int | None):
    training = llmrec_settings.TRAINING
    metric = str(training["PROMOTION_METRIC"])
    k = int(metric.split("@")[1]) if "@" in metric else int(llmrec_settings.DEFAULT_K)
    return EvaluationOptions(
        k=k,
        split="temporal",
        test_events=int(training["HELD_OUT_ITEMS"]),
        reuse_vectors=True,
        vectors_version=vectors_version,
        max_users=training.get("EVALUATION_USERS") or None,
        seed=int(run.params.get("seed", 0)),
        scratch_slug=f"{run.tenant.slug}-train{run.pk}-eval",
    )


def _score(run: TrainingRun, vectors_version: int | None, reranker_path: str | None):
    """The hybrid's metrics and the evaluation report (its lists, for per-user figures)."""
    with reranker.using(reranker_path):
        report = evaluate_tenant(run.tenant, evaluation_options(run, vectors_version))
    hybrid = report.methods[HYBRID]
    return {key: value for key, value in hybrid.items() if not isinstance(value, dict)}, report


def _gain_interval(metric: str, baseline_report, candidate_report) -> dict[str, Any]:
    """The paired bootstrap interval of the relative gain over the users both evaluated (the
    same split and seed give the same users); ``interval`` None for a metric of whole runs."""
    confidence = float(llmrec_settings.TRAINING["GAIN_CONFIDENCE"])
    name, _, k = metric.partition("@")
    if name not in PER_LIST_METRICS or not k.isdigit():
        return {"interval": None, "confidence": confidence, "users": None}
    before = per_list_values(baseline_report.lists[HYBRID], baseline_report.relevant, int(k), name)
    after = per_list_values(candidate_report.lists[HYBRID], candidate_report.relevant, int(k), name)
    users = sorted(set(before) & set(after))
    interval = relative_gain_interval([before[u] for u in users], [after[u] for u in users], confidence)
    return {
        "interval": None if interval is None else [round(interval[0], 4), round(interval[1], 4)],
        "confidence": confidence,
        "users": len(users),
    }


Serving = tuple[int, str | None]  # (embedding version pk, re-ranker folder or None)


def compare(run: TrainingRun, baseline: Serving, candidate: Serving) -> dict[str, Any]:
    """``PROMOTION_METRIC`` of the tenant served two ways, each an (embedding version, re-ranker
    folder or None) pair, on the run's split in one call: both figures, the relative gain with its
    paired interval over the users, both metric sets and the split's baselines."""
    metric = str(llmrec_settings.TRAINING["PROMOTION_METRIC"])
    before, baseline_report = _score(run, *baseline)
    after, candidate_report = _score(run, *candidate)
    if metric not in after:
        raise PromotionError(f"PROMOTION_METRIC {metric!r} is not one of {', '.join(sorted(after))}.")
    return {
        "metric": metric,
        "baseline": before[metric],
        "candidate": after[metric],
        "relative_gain": (after[metric] / before[metric] - 1) if before[metric] else None,
        "relative_gain_interval": _gain_interval(metric, baseline_report, candidate_report),
        # The same split's baselines (most popular, item-KNN, ALS), for scale.
        "references": {
            name: figures.get(metric)
            for name, figures in candidate_report.methods.items()
            if name in REFERENCE_METHODS and metric in figures
        },
        "baseline_metrics": before,
        "candidate_metrics": after,
        "evaluated_at": timezone.now().isoformat(timespec="seconds"),
    }


def evaluate(run: TrainingRun) -> dict[str, Any]:
    """Evaluate the candidate and the active model on the same split; stored on ``run.metrics``."""
    active_version = vectorstore.active_version(run.tenant)
    if active_version is None:
        raise PromotionError(f"Tenant {run.tenant.slug!r} has no active embedding version to compare with.")
    if run.kind == TrainingRun.Kind.ENCODER:
        metrics = compare(run, (active_version.pk, None), (run.embedding_version_id, None))
        metrics["baseline_model"] = f"embedding version {active_version.pk} ({active_version.model_name})"
    else:
        current = reranker.active_reranker(run.tenant)
        metrics = compare(
            run, (active_version.pk, current.artifact_path if current else None), (active_version.pk, run.artifact_path)
        )
        metrics["baseline_model"] = f"re-ranker run {current.pk}" if current else "no re-ranker"
    run.metrics = metrics
    TrainingRun.objects.filter(pk=run.pk).update(metrics=metrics)
    return metrics


def fit_candidate_blend(run: TrainingRun) -> RankingModel | None:
    """Fit the tenant's blend on an encoder run's new version (``blend.fit_ranking_model``), to
    serve with it once it is switched on (``recommend.state`` picks the blend of the active
    version); noted on ``run.metrics["blend"]``. None when the data cannot fit one: the version
    then serves with the latest blend of a version that served."""
    try:
        record = fit_ranking_model(run.tenant, version=run.embedding_version, seed=int(run.params.get("seed", 0)))
    except NotEnoughData as exc:
        note: dict[str, Any] = {"id": None, "reason": str(exc)}
        record = None
    else:
        note = {"id": record.pk, "ndcg@10": (record.metrics or {}).get("ndcg@10"), "valid_auc": record.valid_auc}
    run.metrics = {**(run.metrics or {}), "blend": note}
    TrainingRun.objects.filter(pk=run.pk).update(metrics=run.metrics)
    return record


def describe_blend(metrics: dict[str, Any]) -> str:
    """What blend an encoder run's version serves with, in words; "" when none was fitted."""
    blend = metrics.get("blend")
    if not blend:
        return ""
    if blend.get("id") is None:
        return f"no blend of its own ({blend.get('reason')}): it would serve with the latest blend of a version that served"
    figure = f", NDCG@10 {blend['ndcg@10']:.4f} on its validation" if blend.get("ndcg@10") is not None else ""
    return f"its own blend (ranking model {blend['id']}{figure}) serves with it"


def describe_gain(metrics: dict[str, Any]) -> str:
    """ "+4.6% (95% interval -7.1% .. +17.0%, 608 users)", or "" before an evaluation."""
    gain = metrics.get("relative_gain")
    if gain is None:
        return ""
    spread = metrics.get("relative_gain_interval") or {}
    interval = spread.get("interval")
    if interval is None:
        return f"{gain:+.1%}"
    return (
        f"{gain:+.1%} ({spread['confidence']:.0%} interval {interval[0]:+.1%} .. {interval[1]:+.1%}, "
        f"{spread['users']} users)"
    )


def guardrails(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each ``TRAINING["GUARDRAILS"]`` metric (e.g. ``diversity@10``: at most 15% lower) of the
    candidate against the active model: both figures, the allowed drop and whether it held. A
    metric the evaluation did not report is left out."""
    before, after = metrics.get("baseline_metrics") or {}, metrics.get("candidate_metrics") or {}
    checked = {}
    for name, max_drop in (llmrec_settings.TRAINING.get("GUARDRAILS") or {}).items():
        if isinstance(before.get(name), int | float) and isinstance(after.get(name), int | float):
            floor = before[name] * (1 - float(max_drop))
            checked[name] = {
                "baseline": before[name], "candidate": after[name], "max_drop": float(max_drop),
                "held": after[name] >= floor,
            }  # fmt: skip
    return checked


def refusal(metrics: dict[str, Any]) -> str:
    """Why the candidate may not replace the active model, in words; "" when it may."""
    broken = [
        f"{name} fell from {check['baseline']:.3f} to {check['candidate']:.3f} (at most {check['max_drop']:.0%} allowed)"
        for name, check in guardrails(metrics).items()
        if not check["held"]
    ]
    return "; ".join(broken)


def beats_active(run: TrainingRun) -> bool:
    metrics = run.metrics or {}
    if "candidate" not in metrics:
        return False
    if refusal(metrics):
        return False
    margin = float(llmrec_settings.TRAINING["MIN_IMPROVEMENT"])
    if llmrec_settings.TRAINING["REQUIRE_CONFIDENT_GAIN"]:
        interval = (metrics.get("relative_gain_interval") or {}).get("interval")
        if interval is not None:
            return interval[0] > margin
    return metrics["candidate"] > metrics["baseline"] * (1 + margin)


def decide(run: TrainingRun, *, auto_promote: bool | None = None) -> str:
    auto = bool(llmrec_settings.TRAINING["AUTO_PROMOTE"]) if auto_promote is None else auto_promote
    if not beats_active(run):
        reason = refusal(run.metrics or {})
        if reason:  # kept with the metrics, for the admin and llmrec_train to say why
            run.metrics = {**(run.metrics or {}), "guardrails": guardrails(run.metrics), "refused": reason}
            TrainingRun.objects.filter(pk=run.pk).update(metrics=run.metrics)
            logger.warning("Run %s not promoted: %s.", run.pk, reason)
        _set_promotion(run, TrainingRun.Promotion.REJECTED)
    elif auto:
        promote(run)
    else:
        _set_promotion(run, TrainingRun.Promotion.PENDING)
    return run.promotion


def _set_promotion(run: TrainingRun, state: str, **fields: Any) -> None:
    run.promotion = state
    for key, value in fields.items():
        setattr(run, key, value)
    TrainingRun.objects.filter(pk=run.pk).update(promotion=state, **fields)
    # Serving reads the active re-ranker from a per-process snapshot; update() sends no signal.
    transaction.on_commit(serving_state.clear)


def promote(run: TrainingRun) -> TrainingRun:
    """Switch the run's model on; the one it replaces stays for ``rollback``."""
    run.refresh_from_db()
    if run.status != TrainingRun.Status.SUCCEEDED and run.stage not in DECIDING_STAGES:
        raise PromotionError(f"Run {run.pk} is {run.status}; only a finished run can be promoted.")
    if run.promotion == TrainingRun.Promotion.ACTIVE:
        return run
    with transaction.atomic():
        if run.kind == TrainingRun.Kind.ENCODER:
            version = run.embedding_version
            if version is None or version.status not in (EmbeddingVersion.Status.READY, EmbeddingVersion.Status.ACTIVE):
                raise PromotionError(f"Run {run.pk} has no ready embedding version to activate.")
            previous = vectorstore.active_version(run.tenant)
            vectorstore.activate_version(version)
            TrainingRun.objects.for_tenant(run.tenant).filter(
                kind=TrainingRun.Kind.ENCODER, promotion=TrainingRun.Promotion.ACTIVE
            ).exclude(pk=run.pk).update(promotion=TrainingRun.Promotion.REPLACED)
            _set_promotion(
                run,
                TrainingRun.Promotion.ACTIVE,
                previous_version=previous if previous and previous.pk != version.pk else None,
                promoted_at=timezone.now(),
            )
            loop.after_switch(run.tenant)
        else:
            current = reranker.active_reranker(run.tenant)
            if current is not None:
                TrainingRun.objects.filter(pk=current.pk).update(promotion=TrainingRun.Promotion.REPLACED)
            _set_promotion(run, TrainingRun.Promotion.ACTIVE, previous_run=current, promoted_at=timezone.now())
    logger.info("Promoted %s.", run)
    return run


def rollback(run: TrainingRun) -> TrainingRun:
    """Undo the promotion of ``run``: the model active before it serves again."""
    run.refresh_from_db()
    if run.promotion != TrainingRun.Promotion.ACTIVE:
        raise PromotionError(f"Run {run.pk} is not the active {run.kind}; nothing to roll back.")
    with transaction.atomic():
        if run.kind == TrainingRun.Kind.ENCODER:
            previous = run.previous_version
            if previous is None or previous.status not in (
                EmbeddingVersion.Status.READY,
                EmbeddingVersion.Status.ACTIVE,
            ):
                raise PromotionError(f"The version active before run {run.pk} is gone; it cannot be rolled back.")
            vectorstore.activate_version(previous)
            TrainingRun.objects.filter(
                tenant=run.tenant, kind=TrainingRun.Kind.ENCODER, embedding_version=previous
            ).update(promotion=TrainingRun.Promotion.ACTIVE)
            loop.after_switch(run.tenant)
        else:
            previous_run = run.previous_run
            _set_promotion(run, TrainingRun.Promotion.ROLLED_BACK)
            if previous_run is not None:
                TrainingRun.objects.filter(pk=previous_run.pk).update(promotion=TrainingRun.Promotion.ACTIVE)
        _set_promotion(run, TrainingRun.Promotion.ROLLED_BACK)
    logger.info("Rolled back %s.", run)
    return run
