"""Bulk import of catalogues and behaviour: items, users, knowledge-graph relations, events.

Layers, each usable on its own:

- ``readers``: CSV / JSON Lines files (optionally ``.gz``) -> ``(line_no, row)`` pairs;
- ``validation``: one row -> a clean tuple, or ``RowError``;
- ``loaders``: the services ``import_items``, ``import_users``, ``import_relations``,
  ``import_events`` (rows -> database, in batches via COPY and set-based SQL) and
  ``import_files``;
- ``movielens``: the MovieLens data sets turned into rows for the same services;
- ``report``: ``ImportReport``, what an import did.

The management commands ``llmrec_import`` and ``llmrec_import_movielens`` are thin shells around
these. Example::

    from llmrec_django.catalogue.importing import import_files
    reports = import_files({"items": "items.csv", "events": "events.jsonl.gz"}, tenant="shop")
    for report in reports:
        print(report.summary())
"""

from llmrec_django.catalogue.importing.loaders import (
    EVENTS,
    IMPORT_ORDER,
    ITEMS,
    RELATIONS,
    USERS,
    check_files,
    import_events,
    import_files,
    import_items,
    import_relations,
    import_users,
)
from llmrec_django.catalogue.importing.movielens import import_movielens
from llmrec_django.catalogue.importing.readers import ImportFileError, InvalidRecord, read_rows
from llmrec_django.catalogue.importing.report import BadRow, ImportReport
from llmrec_django.catalogue.importing.validation import RowError

__all__ = [
    "EVENTS",
    "IMPORT_ORDER",
    "ITEMS",
    "RELATIONS",
    "USERS",
    "BadRow",
    "ImportFileError",
    "ImportReport",
    "InvalidRecord",
    "RowError",
    "check_files",
    "import_events",
    "import_files",
    "import_items",
    "import_movielens",
    "import_relations",
    "import_users",
    "read_rows",
]
