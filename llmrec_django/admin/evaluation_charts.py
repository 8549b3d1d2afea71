"""The charts of the admin's evaluation report pages, drawn from stored ``EvaluationReport`` rows."""

from __future__ import annotations

from typing import Any

from llmrec_django.admin.charts import bar_chart
from llmrec_django.learning.evaluation_reports import CATALOGUE_METRICS, METHOD_ORDER, QUALITY_METRICS, STEP_ORDER
from llmrec_django.models import EvaluationReport


def _in_order(names, order) -> list[str]:
    """``names`` in the given order first, the rest after (stored JSON does not keep key order)."""
    names = list(names)
    return [n for n in order if n in names] + sorted(n for n in names if n not in order)


def ordered_methods(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    methods = report.get("methods") or {}
    return [(name, methods[name]) for name in _in_order(methods, METHOD_ORDER)]


def report_charts(record: EvaluationReport) -> list[dict[str, Any]]:
    """The report page's charts: ranking quality, catalogue coverage and diversity, cold start,
    timings; each ``{"title", "svg"}``. Empty until the run is done."""
    report = record.report or {}
    methods = dict(ordered_methods(report))
    k = report.get("k")
    if not methods or not k:
        return []

    def figures(keys: list[str], pick) -> dict[str, list[float | None]]:
        return {name: [pick(metrics, key) for key in keys] for name, metrics in methods.items()}

    def plain(metrics: dict[str, Any], key: str) -> float | None:
        value = metrics.get(key)
        return float(value) if isinstance(value, int | float) else None

    def cold(metrics: dict[str, Any], key: str) -> float | None:
        if key.startswith("cold_users:"):
            return plain(metrics.get("cold_users") or {}, key.split(":", 1)[1])
        return plain(metrics, key)

    quality = [f"{m}@{k}" for m in QUALITY_METRICS]
    catalogue = [f"{m}@{k}" for m in CATALOGUE_METRICS]
    cold_keys = [f"cold_item_recall@{k}", f"cold_users:recall@{k}", f"cold_users:ndcg@{k}"]
    cold_labels = [f"cold items R@{k}", f"cold users R@{k}", f"cold users NDCG@{k}"]
    charts = [
        {"title": f"Ranking quality at k={k}", "svg": bar_chart(quality, figures(quality, plain))},
        {"title": "Catalogue coverage and diversity", "svg": bar_chart(catalogue, figures(catalogue, plain))},
        {"title": "Cold start", "svg": bar_chart(cold_labels, figures(cold_keys, cold))},
    ]
    stored = report.get("timings") or {}
    timings = {name: stored[name] for name in _in_order(stored, STEP_ORDER) if name != "total"}
    if timings:
        charts.append(
            {
                "title": f"Time per step (s; total {report['timings'].get('total', 0):.1f} s)",
                "svg": bar_chart(list(timings), {"seconds": list(timings.values())}, value_format="{:.2f} s"),
            }
        )
    return charts


def history_chart(records: list[EvaluationReport]) -> Any:
    """NDCG@k of every method over past finished runs (oldest first), or None."""
    done = [r for r in records if r.status == EvaluationReport.Status.DONE and r.report.get("methods")]
    if not done:
        return None
    done.reverse()
    names = _in_order({name for r in done for name in r.report["methods"]}, METHOD_ORDER)
    labels = [f"#{r.pk} k={r.k}" for r in done]
    series = {name: [r.metric(name, f"ndcg@{r.k}") for r in done] for name in names}
    return bar_chart(labels, series)
