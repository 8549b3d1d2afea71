"""Bulk import of items, users, knowledge-graph relations and events from files.

    python manage.py llmrec_import --items items.csv --events events.jsonl.gz
    python manage.py llmrec_import --relations kg.csv --tenant shop-b --create-tenant

Files are CSV (with a header) or JSON Lines, chosen by extension (.csv, .jsonl, .ndjson, each
optionally .gz). Columns:

- items: external_id, title, description, category, attributes (JSON object), image_url, is_active
- users: external_id, profile
- relations: head_type, head_id, relation, tail_type, tail_id, weight
  (type "item" / "user": by external id; any other type: an entity of that type, name = id)
- events: event_id, user_id, item_id, event_type, value, timestamp (ISO 8601 or Unix seconds),
  device, location, context (JSON object)

Every header is checked before anything is written; files load in the order items, users,
relations, events. Bad rows are listed as ``file:line: message`` and the command exits with an
error after importing the good rows, unless --allow-errors. Running it again is harmless.
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.catalogue.importing import EVENTS, ITEMS, RELATIONS, USERS, ImportFileError, import_files
from llmrec_django.catalogue.importing.cli import (
    add_import_arguments,
    print_reports,
    progress_factory,
    tenant_from_options,
)
from llmrec_django.catalogue.importing.readers import DEFAULT_ENCODING


class Command(BaseCommand):
    help = "Import items, users, relations and events from CSV or JSON Lines files (optionally gzipped)."

    def add_arguments(self, parser):
        parser.add_argument("--items", metavar="FILE", help="Items: external_id,title,description,category,attributes")
        parser.add_argument("--users", metavar="FILE", help="Users: external_id,profile")
        parser.add_argument(
            "--relations", metavar="FILE", help="Relations: head_type,head_id,relation,tail_type,tail_id,weight"
        )
        parser.add_argument(
            "--events", metavar="FILE", help="Events: event_id,user_id,item_id,event_type,value,timestamp"
        )
        parser.add_argument("--encoding", default=DEFAULT_ENCODING, help="Text encoding of the files (UTF-8).")
        add_import_arguments(parser)

    def handle(self, *args, **options):
        files = {kind: options[kind] for kind in (ITEMS, USERS, RELATIONS, EVENTS) if options[kind]}
        if not files:
            raise CommandError("Nothing to import: give at least one of --items, --users, --relations, --events.")
        tenant = tenant_from_options(options)
        try:
            reports = import_files(
                files,
                tenant,
                batch_size=options["batch_size"],
                encoding=options["encoding"],
                progress_factory=progress_factory(options),
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        print_reports(reports, self.stdout, self.stderr, allow_errors=options["allow_errors"])
