"""What the import commands share: tenant options, progress bars, printing reports.

Kept apart from the services so ``import_*`` stays free of terminal concerns.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, OutputWrapper
from django.core.validators import validate_slug

from llmrec_django.catalogue.importing.loaders import Progress, ProgressFactory
from llmrec_django.catalogue.importing.report import ImportReport
from llmrec_django.database.tenancy import UnknownTenant, resolve_tenant
from llmrec_django.models import Tenant

# Bad rows printed per file; the rest are only counted, so a broken file cannot flood the
# terminal (the full count is in the summary).
MAX_BAD_ROWS_SHOWN = 50


def add_import_arguments(parser: Any) -> None:
    """Options common to every import command."""
    parser.add_argument("--tenant", help="Tenant slug (default: the default tenant).")
    parser.add_argument("--create-tenant", action="store_true", help="Create the tenant if it does not exist.")
    parser.add_argument(
        "--allow-errors",
        action="store_true",
        help="Exit with status 0 even when some rows were bad (they are still reported).",
    )
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    parser.add_argument("--batch-size", type=int, help="Rows per batch (default: LLMREC['IMPORT_BATCH_SIZE'], 50,000).")


def tenant_from_options(options: dict[str, Any]) -> Tenant:
    slug = options.get("tenant")
    try:
        return resolve_tenant(slug)
    except UnknownTenant as error:
        if not options.get("create_tenant"):
            raise CommandError(f"{error} Pass --create-tenant to create it.") from None
    try:
        validate_slug(slug)
    except ValidationError:
        raise CommandError(f"{slug!r} is not a valid tenant slug (letters, digits, - and _).") from None
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
    return tenant


def progress_factory(options: dict[str, Any]) -> ProgressFactory:
    """tqdm bars on stderr, one per file; off with --no-progress, --verbosity 0, or no terminal."""
    from tqdm import tqdm

    disable: bool | None = True if options.get("no_progress") or options.get("verbosity") == 0 else None

    @contextlib.contextmanager
    def bar(label: str) -> Iterator[Progress]:
        # disable=None: tqdm shows the bar only when stderr is a terminal.
        with tqdm(desc=label, unit=" rows", unit_scale=True, file=sys.stderr, disable=disable) as progress:
            yield progress.update

    return bar


def print_reports(
    reports: Sequence[ImportReport], stdout: OutputWrapper, stderr: OutputWrapper, *, allow_errors: bool
) -> None:
    """Bad rows (``file:line: message``) on stderr, one summary line per file on stdout; then a
    ``CommandError`` when rows were bad, unless ``allow_errors``."""
    for report in reports:
        for note in report.notes:
            stderr.write(f"{report.source}: {note}")
        for bad_row in report.bad_rows[:MAX_BAD_ROWS_SHOWN]:
            stderr.write(str(bad_row))
        hidden = report.bad - min(len(report.bad_rows), MAX_BAD_ROWS_SHOWN)
        if hidden > 0:
            stderr.write(f"{report.source}: ... and {hidden:,} more bad rows")
    for report in reports:
        stdout.write(report.summary())
    bad = sum(report.bad for report in reports)
    if bad and not allow_errors:
        raise CommandError(
            f"{bad:,} bad row{'s' if bad != 1 else ''} (listed above); the good rows were imported. "
            "Fix them and run again (the import is idempotent), or pass --allow-errors."
        )
