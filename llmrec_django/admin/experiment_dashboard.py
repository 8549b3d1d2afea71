"""What the admin's experiment dashboard shows: the online report as table rows and SVG charts
(``charts.bar_chart`` with confidence intervals as error bars)."""

from __future__ import annotations

from typing import Any

from llmrec_django.admin.charts import bar_chart


def _bounds(interval: dict[str, float] | None) -> tuple[float, float] | None:
    return (interval["low"], interval["high"]) if interval else None


def _value(interval: dict[str, float] | None) -> float | None:
    return interval["value"] if interval else None


def report_charts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-group totals and per-day series of CTR, conversion and revenue per impression."""
    groups = [g for g in report["groups"] if not g.get("is_shadow")]
    charts = []
    if not groups:
        return charts
    names = [g["name"] for g in groups]
    for metric, title, value_format in (
        ("ctr", "Click-through rate", "{:.2%}"),
        ("conversion_rate", "Conversion rate", "{:.2%}"),
        ("revenue_per_impression", "Revenue per impression", "{:.4f}"),
    ):
        charts.append(
            {
                "title": f"{title} by {report['group_by']} ({int(report['confidence'] * 100)}% interval)",
                "svg": bar_chart(
                    names,
                    {title: [_value(g.get(metric)) for g in groups]},
                    intervals={title: [_bounds(g.get(metric)) for g in groups]},
                    value_format=value_format,
                ),
            }
        )
    days = sorted({d["day"] for d in report["days"]})
    if days:
        by_day = {(d["group"], d["day"]): d for d in report["days"]}
        for metric, title, value_format in (("ctr", "Click-through rate per day", "{:.2%}"),):
            charts.append(
                {
                    "title": title,
                    "svg": bar_chart(
                        days,
                        {name: [_value(by_day.get((name, day), {}).get(metric)) for day in days] for name in names},
                        intervals={
                            name: [_bounds(by_day.get((name, day), {}).get(metric)) for day in days] for name in names
                        },
                        value_format=value_format,
                    ),
                }
            )
        charts.append(
            {
                "title": "Coverage per day (share of the catalogue shown)",
                "svg": bar_chart(
                    days,
                    {name: [by_day.get((name, day), {}).get("coverage") for day in days] for name in names},
                    value_format="{:.1%}",
                ),
            }
        )
    return charts


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group with the figures the table shows, tests included."""
    rows = []
    for group in report["groups"]:
        tests = group.get("vs_control", {})
        rows.append(
            {
                "name": group["name"],
                "role": "control" if group.get("is_control") else "shadow" if group.get("is_shadow") else "",
                "group": group,
                "tests": [
                    {"metric": metric, **test, "relative_text": _percent(test["relative"])}
                    for metric, test in tests.items()
                ],
            }
        )
    return rows


def _percent(relative: float | None) -> str:
    return "" if relative is None else f"{relative * 100:+.1f}%"


def winner_text(report: dict[str, Any]) -> str:
    winner = report.get("winner")
    if not winner:
        return ""
    relative = _percent(winner.get("relative"))
    p_value = winner.get("p_value")
    details = ", ".join(part for part in (relative, f"p = {p_value:.2g}" if p_value is not None else "") if part)
    return f"{winner['group']} is better on {winner['metric']}" + (f" ({details})" if details else "")
