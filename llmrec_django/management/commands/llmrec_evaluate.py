"""Offline evaluation of the hybrid recommender against baselines (``llmrec_django.learning.evaluation``).

python manage.py llmrec_evaluate                          # temporal hold-out of each user's last event
python manage.py llmrec_evaluate --reuse-vectors --json eval.json
python manage.py llmrec_evaluate --split random --seed 1 --k 20
python manage.py llmrec_evaluate --save                   # also store it for the admin's report page
python manage.py llmrec_evaluate --simulate 50 --turns 5  # simulated conversations (learning.simulation)
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.learning.evaluation import SPLITS, EvaluationOptions, evaluate_tenant
from llmrec_django.learning.evaluation_reports import save_report
from llmrec_django.learning.simulation import POLICIES, simulate_conversations
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options


class Command(BaseCommand):
    help = (
        "Hold out each user's latest interactions, train on the rest in a scratch tenant as the service "
        "would, and compare the hybrid's lists with most-popular, item-KNN and ALS baselines."
    )

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("--k", type=int, default=10, help="List length (default 10).")
        parser.add_argument("--split", choices=SPLITS, default="temporal", help="temporal (default) or random 8:1:1.")
        parser.add_argument(
            "--test-events", type=int, default=1, help="Temporal: each user's last N positive events held out (1)."
        )
        parser.add_argument(
            "--test-fraction", type=float, help="Temporal: hold out each user's last share of events instead."
        )
        parser.add_argument("--seed", type=int, default=0, help="Random split, ALS and sampling seed (0).")
        parser.add_argument(
            "--reuse-vectors",
            action="store_true",
            help="Copy the tenant's active item vectors instead of re-embedding the catalogue.",
        )
        parser.add_argument("--cold-user-max", type=int, default=5, help="Cold users: at most N training events (5).")
        parser.add_argument("--mmr-lambda", type=float, help="MMR trade-off for the hybrid (default: MMR_LAMBDA).")
        parser.add_argument(
            "--also-without-mmr", action="store_true", help="Also evaluate the hybrid with MMR off (hybrid_no_mmr)."
        )
        parser.add_argument("--no-context", action="store_true", help="Send no request context with the hybrid.")
        parser.add_argument("--max-users", type=int, help="Evaluate a seeded sample of at most N users.")
        parser.add_argument("--keep-scratch", action="store_true", help="Keep the scratch tenant afterwards.")
        parser.add_argument(
            "--save", action="store_true", help="Also store the report for the admin (Evaluation reports)."
        )
        parser.add_argument("--json", dest="json_path", metavar="OUT", help="Also write every figure to this file.")
        parser.add_argument(
            "--simulate",
            type=int,
            metavar="N",
            help="Instead: N simulated users look for an item of theirs in conversation, against "
            f"{', '.join(POLICIES)} (success within --turns, turns to success).",
        )
        parser.add_argument("--turns", type=int, default=5, help="Simulation: turns a user gives it (5).")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        if options["simulate"] is not None:
            return self._simulate(tenant, options)
        try:
            evaluation_options = EvaluationOptions(
                k=options["k"],
                split=options["split"],
                test_events=options["test_events"],
                test_fraction=options["test_fraction"],
                seed=options["seed"],
                reuse_vectors=options["reuse_vectors"],
                cold_user_max=options["cold_user_max"],
                mmr_lambda=options["mmr_lambda"],
                use_context=not options["no_context"],
                also_without_mmr=options["also_without_mmr"],
                max_users=options["max_users"],
                keep_scratch=options["keep_scratch"],
            )
            progress = (lambda message: self.stderr.write(message)) if options["verbosity"] >= 1 else None
            report = evaluate_tenant(tenant, evaluation_options, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.format_table())
        if options["json_path"]:
            path = Path(options["json_path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report.to_dict(), indent=2, default=str))
            self.stdout.write(f"Wrote {path}")
        if options["save"]:
            record = save_report(tenant, evaluation_options, report)
            self.stdout.write(f"Saved as evaluation report {record.pk} (admin: Evaluation reports).")

    def _simulate(self, tenant, options):
        try:
            report = simulate_conversations(
                tenant, users=options["simulate"], turns=options["turns"], k=options["k"], seed=options["seed"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{report['users']} simulated users, at most {report['turns']} turns, {report['k']} items a turn"
        )
        self.stdout.write(f"{'policy':<14}{'success':>9}{'mean turns':>12}")
        for policy, figures in report["policies"].items():
            mean = "-" if figures["mean_turns"] is None else f"{figures['mean_turns']:.2f}"
            self.stdout.write(f"{policy:<14}{figures['success_rate']:>9.3f}{mean:>12}")
        if options["json_path"]:
            path = Path(options["json_path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
            self.stdout.write(f"Wrote {path}")
