"""System checks of the database: pgvector installed, PostgreSQL, the active versions' dimensions
(``llmrec.E001``, ``E005``, ``W001``; the list of every id is in ``llmrec_django.conf.checks``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from django.db import connections

from llmrec_django.conf.backends import backend_options
from llmrec_django.ml.encoders import model_dimension


@register(Tags.database)
def check_database(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    errors: list = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            errors.append(
                Error(
                    f"Database {alias!r} is {connection.vendor}; llmrec_django needs PostgreSQL with pgvector.",
                    id="llmrec.E005",
                )
            )
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            installed = cursor.fetchone()
            if installed is None:
                cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
                # A server with pgvector that has not created it yet just needs its migrations
                # (the first creates the extension; Django already reports unapplied ones), so
                # that is no warning: one here would open the log of that very `migrate`.
                if cursor.fetchone() is None:
                    errors.append(
                        Error(
                            f"The PostgreSQL server of database {alias!r} has no pgvector extension.",
                            hint="Install pgvector on the server (https://github.com/pgvector/pgvector), use a "
                            "server image with it (pgvector/pgvector), or unset DATABASE_URL to use the "
                            "embedded server.",
                            id="llmrec.E001",
                        )
                    )
                continue
            errors.extend(_check_active_dimensions(cursor))
    return errors


def _check_active_dimensions(cursor: Any) -> list:
    cursor.execute("SELECT to_regclass('llmrec_django_embeddingversion')")
    if cursor.fetchone()[0] is None:  # not migrated yet
        return []
    try:
        dimension = model_dimension(backend_options("ENCODER").get("path"))
    except (FileNotFoundError, ValueError, OSError):
        return []  # reported by check_encoder
    cursor.execute("SELECT id, dimension FROM llmrec_django_embeddingversion WHERE status = 'active'")
    return [
        Warning(
            f"Active embedding version {pk} has {dim}-dimensional vectors; the configured encoder makes {dimension}.",
            hint="Run `python manage.py llmrec_embed` to build a version with the configured encoder.",
            id="llmrec.W001",
        )
        for pk, dim in cursor.fetchall()
        if dim != dimension
    ]
