"""Batch recommendations: every active user's top-k, kept as lists and written to JSONL and CSV
files in Django storage (``llmrec_django.recommend.batch``).

python manage.py llmrec_batch                          # active in 30 days, k=10, on the workers
python manage.py llmrec_batch --tenant shop --k 20 --active-days 7 --sync
python manage.py llmrec_batch --users segment.txt      # one external id per line
python manage.py llmrec_batch --resume 12              # continue run 12 (only the missing users)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.conf import llmrec_settings
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options
from llmrec_django.models import BatchRun
from llmrec_django.recommend import batch

MAX_SEGMENT_FILE_BYTES = 512 * 1024 * 1024


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    return parse


class Command(BaseCommand):
    help = "Compute every active user's (or a segment's) top-k lists in chunks and write them to storage."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("--k", type=_whole(1, 1000), help='Items per list (default LLMREC["BATCH"]["K"]).')
        parser.add_argument(
            "--active-days", type=_whole(1, batch.MAX_ACTIVE_DAYS), help="Users with an interaction in these days."
        )
        parser.add_argument("--users", type=Path, help="A file of external user ids, one a line (a segment).")
        parser.add_argument("--sync", action="store_true", help="Compute here instead of on the Celery workers.")
        parser.add_argument("--resume", type=_whole(1, 2**63 - 1), metavar="RUN", help="Continue this run.")
        parser.add_argument(
            "--email", action="store_true", help='E-mail each user their list when done (needs BATCH["SITE_URL"]).'
        )

    def handle(self, *args, **options):
        if options["k"] is not None and options["k"] > int(llmrec_settings.MAX_K):
            raise CommandError(f'--k must be at most LLMREC["MAX_K"] ({llmrec_settings.MAX_K}).')
        try:
            if options["resume"] is not None:
                if options["users"] or options["active_days"] or options["k"] or options["email"]:
                    raise CommandError(
                        "--resume continues a run as it was started: no --k, --active-days, --users or --email."
                    )
                if not BatchRun.objects.filter(pk=options["resume"]).exists():
                    raise CommandError(f"No batch run {options['resume']}.")
                run = batch.resume_run(options["resume"], sync=options["sync"])
            else:
                if options["users"] and options["active_days"]:
                    raise CommandError("Give --users or --active-days, not both.")
                users = self._segment(options["users"]) if options["users"] else None
                run = batch.start_run(
                    tenant_from_options(options),
                    k=options["k"],
                    active_days=options["active_days"],
                    users=users,
                    sync=options["sync"],
                    email=options["email"],
                )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run.refresh_from_db()
        if run.status == BatchRun.Status.DONE:
            sent = f"; {run.digests_sent} digest e-mails sent" if run.digests_sent is not None else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"Batch run {run.pk}: {run.users_done} of {run.users_total} users; "
                    f"files {run.jsonl_file}, {run.csv_file}{sent}"
                )
            )
        else:
            self.stdout.write(f"Batch run {run.pk} ({run.status}): {run.users_total} users queued in chunks.")

    def _segment(self, path: Path) -> list[str]:
        try:
            if path.stat().st_size > MAX_SEGMENT_FILE_BYTES:
                raise CommandError(f"{path} is larger than {MAX_SEGMENT_FILE_BYTES} bytes.")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
