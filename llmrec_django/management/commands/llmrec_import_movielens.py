"""Import a MovieLens data set (ml-100k, ml-latest(-small), ml-1m ...) into a tenant.

    python manage.py llmrec_import_movielens ../shared/data/ml-latest-small
    python manage.py llmrec_import_movielens ml-1m --tenant movies --create-tenant --limit-events 100000

Movies become items, genres knowledge-graph edges (item -has_genre-> genre), tags item text,
ratings "rating" events; see ``llmrec_django.importing.movielens``. Idempotent on re-run.
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.importing import import_events, import_items, import_relations, movielens
from llmrec_django.importing.cli import add_import_arguments, print_reports, progress_factory, tenant_from_options
from llmrec_django.importing.loaders import open_progress


class Command(BaseCommand):
    help = "Import a MovieLens data set directory (ml-100k, ml-latest, ml-latest-small, ml-1m, ml-10m, ml-25m)."

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--limit-events", type=int, help="Import at most this many ratings.")
        add_import_arguments(parser)

    def handle(self, *args, **options):
        try:
            files = movielens.detect(options["directory"])
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        tenant = tenant_from_options(options)
        bars = progress_factory(options)
        batch_size = options["batch_size"]
        steps = [
            ("items", import_items, movielens.item_rows(files), files.movies),
            ("relations", import_relations, movielens.relation_rows(files), files.movies),
            ("events", import_events, movielens.event_rows(files, options["limit_events"]), files.ratings),
        ]
        reports = []
        for kind, importer, rows, path in steps:
            with open_progress(bars, f"{kind}: {path.name}") as progress:
                reports.append(importer(rows, tenant, source=str(path), batch_size=batch_size, progress=progress))
        print_reports(reports, self.stdout, self.stderr, allow_errors=options["allow_errors"])
