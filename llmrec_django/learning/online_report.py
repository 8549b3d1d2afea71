"""Online metrics from served lists and attributed events, per experiment arm (or, outside an
experiment, per surface) and per day, with intervals and significance tests.

Usage::

    from llmrec_django.learning.online_report import online_report
    report = online_report(experiment="new-blend")          # dict, JSON-safe
    report["groups"][1]["vs_control"]["ctr"]["p_value"]
    online_report(days=14)                                  # every list of the last 14 days, by surface

What is counted (``LLMREC["ONLINE"]``):
- impressions: the items of the served (non-shadow) lists;
- CTR: impressions with an attributed click (``CLICK_EVENTS``) / impressions;
- conversion rate: impressions with an attributed conversion (``CONVERSION_EVENTS``) / impressions;
- revenue per impression: the attributed conversions' ``value`` summed / impressions;
- coverage: distinct items shown / active items of the catalogue;
- novelty: mean -log2((users who interacted with the item + 1) / (users + 1)) over impressions;
- hit rate: lists whose user went on to engage (any attributed event type, within its window,
  from any list or none) with one of their items. Shadow arms have only this one, so it is the
  measure that compares a shadow arm with the arms shown (the shown ones have the advantage that
  users engage with what they see).
Each arm is compared with the control arm (the one marked, else the first): two-proportion z-tests
for CTR and conversion, Welch's t-test for revenue per impression; "significant" means a p-value
below (1 - CONFIDENCE) divided by the number of arms compared (Bonferroni). Impressions are
treated as independent trials, which understates the uncertainty when a few users see many lists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core import online_stats
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.learning import attribution
from llmrec_django.models import Experiment, ExperimentAssignment, Item, Tenant

TOTAL = "total"


@dataclass
class _Scope:
    """Which served lists a report reads, and what it groups them by."""

    where: str  # SQL over the served-list alias "s"
    params: list[Any]
    group: str  # SQL expression over "s" naming the group


def _rows(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _interval(value: online_stats.Interval) -> dict[str, float]:
    return {"value": value.estimate, "low": value.low, "high": value.high}


def _counts(scope: _Scope, tz: str, options: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (group, day) and (group, TOTAL): lists, impressions, clicks ... as plain numbers."""
    day = "to_char(s.served_at AT TIME ZONE %s, 'YYYY-MM-DD')"
    by = f"GROUPING SETS (({scope.group}, {day}), ({scope.group}))"
    out: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)

    def key(group: Any, when: Any) -> tuple[str, str]:
        return (str(group), when or TOTAL)

    for group, when, shadow, lists, impressions, explored, users in _rows(
        f"""
        SELECT {scope.group}, {day}, bool_or(s.shadow), count(*), coalesce(sum(cardinality(s.item_ids)), 0),
               coalesce(sum(cardinality(s.explored)), 0), count(DISTINCT s.user_id)
        FROM llmrec_django_servedlist s WHERE {scope.where} GROUP BY {by}
        """,
        [tz, *scope.params, tz],
    ):
        out[key(group, when)].update(
            shadow=bool(shadow),
            lists=lists,
            impressions=int(impressions),
            explore_impressions=int(explored),
            users=users,
        )
    clicks, conversions = list(options["CLICK_EVENTS"]), list(options["CONVERSION_EVENTS"])
    for group, when, clicked, converted, explore_clicked in _rows(
        f"""
        SELECT {scope.group}, {day},
               count(DISTINCT (a.served_list_id, a.position)) FILTER (WHERE a.event_type = ANY(%s)),
               count(DISTINCT (a.served_list_id, a.position)) FILTER (WHERE a.event_type = ANY(%s)),
               count(DISTINCT (a.served_list_id, a.position)) FILTER (WHERE a.event_type = ANY(%s) AND a.explored)
        FROM llmrec_django_attribution a JOIN llmrec_django_servedlist s ON s.id = a.served_list_id
        WHERE {scope.where} GROUP BY {by}
        """,
        [tz, clicks, conversions, clicks, *scope.params, tz],
    ):
        out[key(group, when)].update(clicks=clicked, conversions=converted, explore_clicks=explore_clicked)
    for group, when, revenue, squares in _rows(
        f"""
        SELECT g, d, sum(r), sum(r * r) FROM (
            SELECT {scope.group} AS g, {day} AS d, a.served_list_id, a.position, sum(coalesce(a.value, 0)) AS r
            FROM llmrec_django_attribution a JOIN llmrec_django_servedlist s ON s.id = a.served_list_id
            WHERE {scope.where} AND a.event_type = ANY(%s) GROUP BY 1, 2, 3, 4
        ) per_impression GROUP BY GROUPING SETS ((g, d), (g))
        """,
        [tz, *scope.params, conversions],
    ):
        out[key(group, when)].update(revenue=float(revenue or 0), revenue_squares=float(squares or 0))
    for group, when, distinct_items, novelty in _rows(
        f"""
        WITH popularity AS (
            SELECT item_id, count(DISTINCT user_id) AS users FROM llmrec_django_interaction
            WHERE tenant_id = %s GROUP BY item_id
        ), everyone AS (SELECT count(*) AS users FROM llmrec_django_userprofile WHERE tenant_id = %s)
        SELECT {scope.group}, {day}, count(DISTINCT shown.item_id),
               avg(-ln((coalesce(p.users, 0) + 1)::float8 / (everyone.users + 1)) / ln(2))
        FROM llmrec_django_servedlist s CROSS JOIN LATERAL unnest(s.item_ids) AS shown(item_id)
        LEFT JOIN popularity p ON p.item_id = shown.item_id CROSS JOIN everyone
        WHERE {scope.where} GROUP BY {by}
        """,
        [scope.params[0], scope.params[0], tz, *scope.params, tz],
    ):
        out[key(group, when)].update(distinct_items=distinct_items, novelty=float(novelty or 0))
    windows = {str(t): float(s) for t, s in options["ATTRIBUTION_WINDOWS"].items()}
    for group, when, hits in _rows(
        f"""
        SELECT {scope.group}, {day}, count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM llmrec_django_interaction e
            JOIN unnest(%s::text[], %s::float8[]) AS w(event_type, seconds) ON w.event_type = e.event_type
            WHERE e.tenant_id = s.tenant_id AND e.user_id = s.user_id AND e.item_id = ANY(s.item_ids)
              AND e.timestamp >= s.served_at - make_interval(secs => %s)
              AND e.timestamp <= s.served_at + make_interval(secs => w.seconds)))
        FROM llmrec_django_servedlist s WHERE {scope.where} AND s.user_id IS NOT NULL GROUP BY {by}
        """,
        [tz, list(windows), list(windows.values()), attribution.CLOCK_SKEW_SECONDS, *scope.params, tz],
    ):
        out[key(group, when)].update(hits=hits)
    return out


def _metrics(counts: dict[str, Any], catalogue: int, confidence: float) -> dict[str, Any]:
    impressions = counts.get("impressions", 0)
    clicks, conversions = counts.get("clicks", 0), counts.get("conversions", 0)
    revenue = counts.get("revenue", 0.0)
    lists = counts.get("lists", 0)
    explore_impressions = counts.get("explore_impressions", 0)
    explore_clicks = counts.get("explore_clicks", 0)
    metrics = {
        "lists": lists,
        "users": counts.get("users", 0),
        "impressions": impressions,
        "clicks": clicks,
        "conversions": conversions,
        "revenue": revenue,
        "hit_rate": _interval(online_stats.wilson_interval(counts.get("hits", 0), lists, confidence)),
        "coverage": (counts.get("distinct_items", 0) / catalogue) if catalogue else 0.0,
        "novelty": counts.get("novelty", 0.0),
    }
    if counts.get("shadow"):
        return metrics  # nothing was shown: no impressions to click
    metrics.update(
        ctr=_interval(online_stats.wilson_interval(clicks, impressions, confidence)),
        conversion_rate=_interval(online_stats.wilson_interval(conversions, impressions, confidence)),
        revenue_per_impression=_interval(
            online_stats.mean_interval(revenue, counts.get("revenue_squares", 0.0), impressions, confidence)
        ),
        exploration={
            "impressions": explore_impressions,
            "clicks": explore_clicks,
            "ctr": _interval(online_stats.wilson_interval(explore_clicks, explore_impressions, confidence)),
        },
    )
    return metrics


def _compare(control: dict[str, Any], other: dict[str, Any], alpha: float) -> dict[str, Any]:
    """Tests of ``other`` against ``control`` (both need impressions)."""
    tests: dict[str, Any] = {}

    def add(name: str, result: online_stats.TestResult) -> None:
        tests[name] = {
            "difference": result.difference,
            "relative": result.relative,
            "statistic": result.statistic,
            "p_value": result.p_value,
            "significant": result.p_value < alpha,
        }

    a, b = control["counts"], other["counts"]
    if a.get("impressions", 0) > 0 and b.get("impressions", 0) > 0:
        add(
            "ctr",
            online_stats.two_proportion_z_test(
                a.get("clicks", 0), a["impressions"], b.get("clicks", 0), b["impressions"]
            ),
        )
        add(
            "conversion_rate",
            online_stats.two_proportion_z_test(
                a.get("conversions", 0), a["impressions"], b.get("conversions", 0), b["impressions"]
            ),
        )
    if a.get("impressions", 0) > 1 and b.get("impressions", 0) > 1:
        add(
            "revenue_per_impression",
            online_stats.welch_t_test(
                a.get("revenue", 0.0), a.get("revenue_squares", 0.0), a["impressions"],
                b.get("revenue", 0.0), b.get("revenue_squares", 0.0), b["impressions"],
            ),
        )  # fmt: skip
    if a.get("lists", 0) > 0 and b.get("lists", 0) > 0:
        add("hit_rate", online_stats.two_proportion_z_test(a.get("hits", 0), a["lists"], b.get("hits", 0), b["lists"]))
    return tests


def online_report(
    experiment: Experiment | str | None = None,
    *,
    tenant: Tenant | str | None = None,
    days: int = 30,
    run_attribution: bool = True,
) -> dict[str, Any]:
    """The report of ``experiment`` (its whole run), or of every list of the last ``days`` days by
    surface. ``run_attribution``: attribute the events that arrived since the last pass first."""
    options = llmrec_settings.ONLINE
    confidence = float(options["CONFIDENCE"])
    tenant = resolve_tenant(tenant if tenant is not None else getattr(experiment, "tenant", None))
    if run_attribution:
        attribution.attribute(tenant)
    tz = timezone.get_current_timezone_name()
    catalogue = Item.objects.filter(tenant=tenant, is_active=True).count()
    arms: dict[str, dict[str, Any]] = {}
    if experiment is not None:
        if not isinstance(experiment, Experiment):
            found = Experiment.objects.filter(tenant=tenant, name=str(experiment)).first()
            if found is None:
                raise LookupError(f"No experiment {experiment!r} in tenant {tenant.slug!r}.")
            experiment = found
        scope = _Scope(
            where="s.tenant_id = %s AND s.experiment_id = %s", params=[tenant.pk, experiment.pk], group="s.arm_id"
        )
        users = dict(
            ExperimentAssignment.objects.filter(experiment=experiment).values_list("arm_id").annotate(n=Count("pk"))
        )
        for arm in experiment.arms.all().order_by("pk"):
            arms[str(arm.pk)] = {
                "name": arm.name,
                "is_control": arm.is_control,
                "is_shadow": arm.is_shadow,
                "traffic": arm.traffic,
                "strategy": arm.strategy,
                "assigned_users": users.get(arm.pk, 0),
            }
        if arms and not any(a["is_control"] for a in arms.values()):
            next(a for a in arms.values() if not a["is_shadow"])["is_control"] = True
        header = {
            "experiment": experiment.name,
            "description": experiment.description,
            "running": experiment.is_running(),
            "starts_at": experiment.starts_at.isoformat() if experiment.starts_at else None,
            "ends_at": experiment.ends_at.isoformat() if experiment.ends_at else None,
            "group_by": "arm",
        }
    else:
        if days <= 0:
            raise ValueError(f"days must be positive, got {days}.")
        since = timezone.now() - timedelta(days=days)
        scope = _Scope(where="s.tenant_id = %s AND s.served_at >= %s", params=[tenant.pk, since], group="s.surface")
        header = {"experiment": None, "since": since.isoformat(), "group_by": "surface"}
    counts = _counts(scope, tz, options)
    names = {key: arms.get(key, {}).get("name", key) for key, _ in counts} if arms else {}
    groups: list[dict[str, Any]] = []
    keys = list(arms) if arms else sorted({g for g, _ in counts})
    for key in keys:
        total = counts.get((key, TOTAL), {})
        groups.append(
            {
                "name": names.get(key, key) if arms else key,
                **({k: v for k, v in arms[key].items() if k != "name"} if arms else {}),
                **_metrics(total, catalogue, confidence),
                "counts": total,
            }
        )
    control = next((g for g in groups if g.get("is_control")), None)
    compared = [g for g in groups if control is not None and g is not control]
    alpha = (1 - confidence) / max(1, len([g for g in compared if not g.get("is_shadow")]))
    winner = None
    for group in compared:
        group["vs_control"] = _compare(control, group, alpha)
        ctr = group["vs_control"].get("ctr")
        if ctr and ctr["significant"] and ctr["difference"] > 0 and not group.get("is_shadow"):
            if winner is None or ctr["difference"] > winner["difference"]:
                winner = {"metric": "ctr", "group": group["name"], **ctr}
    if control is not None and winner is None and compared:
        beaten = [g for g in compared if g["vs_control"].get("ctr", {}).get("significant")]
        if beaten and all(g["vs_control"]["ctr"]["difference"] < 0 for g in beaten):
            winner = {"metric": "ctr", "group": control["name"], "note": "the control beats every arm it differs from"}
    daily = []
    for (key, when), day_counts in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if when == TOTAL:
            continue
        daily.append(
            {"day": when, "group": names.get(key, key) if arms else key, **_metrics(day_counts, catalogue, confidence)}
        )
    for group in groups:
        group.pop("counts")
    return {
        **header,
        "tenant": tenant.slug,
        "confidence": confidence,
        "alpha_per_comparison": alpha,
        "catalogue_items": catalogue,
        "groups": groups,
        "days": daily,
        "winner": winner,
        "generated_at": timezone.now().isoformat(),
    }
