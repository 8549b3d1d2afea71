"""Stored runs of the offline evaluation, for the admin's evaluation report page.

Usage::

    from llmrec_django.learning.evaluation import EvaluationOptions
    from llmrec_django.learning.evaluation_reports import start_evaluation, save_report

    record = start_evaluation(tenant, EvaluationOptions(k=10, reuse_vectors=True), started_by=request.user)
    # queued: the Celery task ``tasks.run_evaluation`` runs it (eagerly, in this process, without
    # a broker); ``record.status`` goes queued -> running -> done (``record.report``) or failed.
    record = save_report(tenant, options, report)   # a run made elsewhere (llmrec_evaluate --save)

The admin draws them with ``llmrec_django.admin.evaluation_charts``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from llmrec_django import queues
from llmrec_django.database import outbox
from llmrec_django.learning.evaluation import EvaluationOptions, evaluate_tenant
from llmrec_django.learning.evaluation import EvaluationReport as Report
from llmrec_django.models import EvaluationReport, Tenant

logger = logging.getLogger(__name__)

QUALITY_METRICS = ("precision", "recall", "f1", "ndcg", "hit_rate", "mrr")
METHOD_ORDER = ("hybrid", "hybrid_no_mmr", "most_popular", "item_knn", "als")
STEP_ORDER = ("split", "copy", "vectors", "fit", "hybrid_lists", "baselines", "metrics")
CATALOGUE_METRICS = ("coverage", "diversity")


def options_to_dict(options: EvaluationOptions) -> dict[str, Any]:
    return {**asdict(options), "ratios": list(options.ratios)}


def options_from_dict(data: dict[str, Any]) -> EvaluationOptions:
    data = dict(data)
    if "ratios" in data:
        data["ratios"] = tuple(data["ratios"])
    return EvaluationOptions(**data)


def _json_safe(report: Report) -> dict[str, Any]:
    return json.loads(json.dumps(report.to_dict(), default=str))


def save_report(tenant: Tenant, options: EvaluationOptions, report: Report, started_by: Any = None) -> EvaluationReport:
    """Store a finished run."""
    return EvaluationReport.objects.create(
        tenant=tenant,
        status=EvaluationReport.Status.DONE,
        options=options_to_dict(options),
        report=_json_safe(report),
        started_by=started_by,
        finished_at=timezone.now(),
    )


def start_evaluation(tenant: Tenant, options: EvaluationOptions, started_by: Any = None) -> EvaluationReport:
    """Record a queued run and hand it to the ``run_evaluation`` task through the outbox (sent
    once this transaction commits; kept for ``drain_outbox`` while the broker is down)."""
    with transaction.atomic():
        record = EvaluationReport.objects.create(tenant=tenant, options=options_to_dict(options), started_by=started_by)
        outbox.enqueue(tenant.pk, queues.RUN_EVALUATION, [(record.pk,)])
    return record


def run_saved_evaluation(report_id: int) -> EvaluationReport | None:
    """Run a queued evaluation and store its figures or its error. A finished one is left as it is
    (a redelivered task does nothing)."""
    record = EvaluationReport.objects.select_related("tenant").filter(pk=report_id).first()
    if record is None:
        logger.info("Evaluation report %s is gone; nothing to run.", report_id)
        return None
    if record.status in (EvaluationReport.Status.DONE, EvaluationReport.Status.FAILED):
        return record
    record.status = EvaluationReport.Status.RUNNING
    record.save(update_fields=["status"])
    try:
        report = evaluate_tenant(record.tenant, options_from_dict(record.options))
    except Exception as exc:  # noqa: BLE001 - recorded on the report, shown in the admin
        if isinstance(exc, ValueError):  # the data or the options do not allow an evaluation
            logger.warning("Evaluation %s of tenant %s: %s", record.pk, record.tenant.slug, exc)
        else:
            logger.exception("Evaluation %s of tenant %s failed.", record.pk, record.tenant.slug)
        record.status = EvaluationReport.Status.FAILED
        record.error = f"{type(exc).__name__}: {exc}"
    else:
        record.status = EvaluationReport.Status.DONE
        record.report = _json_safe(report)
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "report", "error", "finished_at"])
    return record


def mark_failed(report_id: int, error: str) -> None:
    """A queued or running evaluation ends as failed with ``error`` (a finished one is left)."""
    EvaluationReport.objects.filter(
        pk=report_id, status__in=[EvaluationReport.Status.QUEUED, EvaluationReport.Status.RUNNING]
    ).update(status=EvaluationReport.Status.FAILED, error=error[:10_000], finished_at=timezone.now())
