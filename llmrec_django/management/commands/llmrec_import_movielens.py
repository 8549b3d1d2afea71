"""Import a MovieLens data set (ml-100k, ml-latest(-small), ml-1m, ml-10m, ml-20m, ml-25m) into a tenant.

    python manage.py llmrec_import_movielens ../shared/data/ml-latest-small
    python manage.py llmrec_import_movielens ml-1m --tenant movies --create-tenant --limit-events 100000

Movies become items (year and genres in the attributes, genres and tags in the description),
genres knowledge-graph edges (item -has_genre-> genre), ratings "rating" events; see
``llmrec_django.catalogue.importing.movielens``. Uses the same services as ``llmrec_import``; idempotent.
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.catalogue.importing import ImportFileError
from llmrec_django.catalogue.importing.cli import (
    add_import_arguments,
    print_reports,
    progress_factory,
    tenant_from_options,
)
from llmrec_django.catalogue.importing.movielens import import_movielens


class Command(BaseCommand):
    help = "Import a MovieLens data set directory (ml-100k, ml-latest, ml-latest-small, ml-1m, ml-10m, ml-25m)."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="The unpacked data set, e.g. ml-latest-small/.")
        parser.add_argument("--limit-events", type=int, metavar="N", help="Import only the first N ratings.")
        add_import_arguments(parser)

    def handle(self, *args, **options):
        if options["limit_events"] is not None and options["limit_events"] < 0:
            raise CommandError("--limit-events must be 0 or more.")
        tenant = tenant_from_options(options)
        try:
            reports = import_movielens(
                options["directory"],
                tenant,
                limit_events=options["limit_events"],
                batch_size=options["batch_size"],
                progress_factory=progress_factory(options),
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        print_reports(reports, self.stdout, self.stderr, allow_errors=options["allow_errors"])
