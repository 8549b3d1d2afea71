"""Online metrics of an experiment (per arm, with intervals and tests) or of all served lists.

python manage.py llmrec_report --experiment new-blend
python manage.py llmrec_report --experiment new-blend --json report.json --daily
python manage.py llmrec_report --days 14                  # every list of the last 14 days, by surface
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.learning.online_report import online_report
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options


def _pct(interval: dict | None) -> str:
    if not interval:
        return "-"
    return f"{interval['value'] * 100:.2f}% [{interval['low'] * 100:.2f}, {interval['high'] * 100:.2f}]"


def _money(interval: dict | None) -> str:
    if not interval:
        return "-"
    return f"{interval['value']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


class Command(BaseCommand):
    help = "CTR, conversion, revenue per impression, coverage and novelty per experiment arm (or surface)."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("--experiment", help="Experiment name (default: every list, grouped by surface).")
        parser.add_argument("--days", type=int, default=30, help="Without --experiment: the last N days (30).")
        parser.add_argument("--daily", action="store_true", help="Also print the figures per day.")
        parser.add_argument("--json", dest="json_path", metavar="OUT", help="Also write the report to this file.")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        try:
            report = online_report(options.get("experiment"), tenant=tenant, days=options["days"])
        except (LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        title = (
            f"Experiment {report['experiment']}" if report["experiment"] else f"Served lists since {report['since']}"
        )
        self.stdout.write(f"{title} (tenant {report['tenant']}, {int(report['confidence'] * 100)}% intervals)")
        header = f"{'':14} {'lists':>7} {'impr.':>8} {'CTR':>24} {'conversion':>24} {'revenue/impr.':>26} {'cover.':>7} {'novelty':>7}"
        self.stdout.write(header)
        rows = [(group["name"], group) for group in report["groups"]]
        if options["daily"]:
            rows += [(f"{day['day']} {day['group']}", day) for day in report["days"]]
        for name, figures in rows:
            label = name + (
                " (control)" if figures.get("is_control") else " (shadow)" if figures.get("is_shadow") else ""
            )
            self.stdout.write(
                f"{label[:14]:14} {figures['lists']:>7} {figures['impressions']:>8} {_pct(figures.get('ctr')):>24} "
                f"{_pct(figures.get('conversion_rate')):>24} {_money(figures.get('revenue_per_impression')):>26} "
                f"{figures['coverage']:>7.3f} {figures['novelty']:>7.2f}"
            )
        for group in report["groups"]:
            for metric, test in group.get("vs_control", {}).items():
                relative = "" if test["relative"] is None else f" ({test['relative'] * 100:+.1f}%)"
                verdict = "significant" if test["significant"] else "not significant"
                self.stdout.write(
                    f"{group['name']} vs control, {metric}: {test['difference']:+.5f}{relative}, p = {test['p_value']:.4g}, {verdict}"
                )
        winner = report["winner"]
        self.stdout.write(
            f"Better arm: {winner['group']} ({winner['metric']})" if winner else "No arm is significantly better yet."
        )
        if options.get("json_path"):
            Path(options["json_path"]).write_text(json.dumps(report, indent=2))
            self.stdout.write(f"Wrote {options['json_path']}")
