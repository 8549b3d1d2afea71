"""System checks: turn a misconfiguration into a clear error at ``manage.py check`` time.

IDs:
- llmrec.E001  the database has no pgvector extension (database check)
- llmrec.E002  LLMREC["EMBEDDING_DIMENSION"] differs from what the encoder produces
- llmrec.E003  the encoder's model path holds no model
- llmrec.E004  a Celery broker is configured but cannot be reached
- llmrec.E005  the database is not PostgreSQL
- llmrec.E006  a backend's dotted path does not import
- llmrec.E010  LLMREC has a key the app does not know (a typo)
- llmrec.E011  the copy generator's options are wrong or its model is not there
- llmrec.E012  TASK_MAX_DELIVERIES or OUTBOX_RESEND_SECONDS is not a positive number
- llmrec.W001  the active embedding version was made with another dimension (database check)
- llmrec.W002  pgvector is available but not created yet (migrate creates it)

Database checks run with ``manage.py check --database default`` and before ``migrate``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from llmrec_django.conf import DEFAULTS, llmrec_settings


@register("llmrec")
def check_settings_keys(app_configs: Any = None, **kwargs: Any) -> list:
    unknown = sorted(set(getattr(settings, "LLMREC", {}) or {}) - set(DEFAULTS))
    return [
        Error(
            f"Unknown LLMREC setting {key!r}.",
            hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
            id="llmrec.E010",
        )
        for key in unknown
    ]


@register("llmrec")
def check_encoder(app_configs: Any = None, **kwargs: Any) -> list:
    from llmrec_django.backends import backend_options, load_backend_class
    from llmrec_django.encoders import model_dimension, resolve_model_path

    try:
        load_backend_class("ENCODER")
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="llmrec.E006")]
    path = backend_options("ENCODER").get("path")
    try:
        resolve_model_path(path)
    except FileNotFoundError as exc:
        return [
            Error(
                f"Encoder model not found: {exc}",
                hint='Set LLMREC["ENCODER"]["OPTIONS"]["path"] to a local Hugging Face model directory.',
                id="llmrec.E003",
            )
        ]
    try:
        dimension = model_dimension(path)
    except (ValueError, OSError) as exc:
        return [Error(f"Cannot read the encoder's config: {exc}", id="llmrec.E003")]
    expected = llmrec_settings.EMBEDDING_DIMENSION
    if dimension != expected:
        return [
            Error(
                f"The encoder produces {dimension}-dimensional vectors but "
                f'LLMREC["EMBEDDING_DIMENSION"] is {expected}.',
                hint=f'Set LLMREC["EMBEDDING_DIMENSION"] = {dimension}, or configure the intended model.',
                id="llmrec.E002",
            )
        ]
    return []


@register("llmrec")
def check_copy_generator(app_configs: Any = None, **kwargs: Any) -> list:
    from llmrec_django.backends import backend_options, load_backend_class

    try:
        cls = load_backend_class("COPY")
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="llmrec.E006")]
    config = llmrec_settings.COPY
    errors = []
    for key in ("TIME_BUDGET_SECONDS", "AHEAD_OF_TIME_BUDGET_SECONDS", "MAX_CHARS", "MAX_ITEMS"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f'LLMREC["COPY"]["{key}"] must be a positive number, not {value!r}.', id="llmrec.E011"))
    check_options = getattr(cls, "check_options", None)
    for problem in check_options(backend_options("COPY")) if check_options else []:
        errors.append(
            Error(
                f"Copy generator {cls.__name__}: {problem}",
                hint='Fix LLMREC["COPY"]["OPTIONS"], or use llmrec_django.copywriting.TemplateCopyGenerator.',
                id="llmrec.E011",
            )
        )
    return errors


@register("llmrec")
def check_reliability_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors = []
    deliveries = llmrec_settings.TASK_MAX_DELIVERIES
    if deliveries is not None and (isinstance(deliveries, bool) or not isinstance(deliveries, int) or deliveries < 1):
        errors.append(
            Error(
                f'LLMREC["TASK_MAX_DELIVERIES"] must be a whole number of at least 1, or None, not {deliveries!r}.',
                hint="5 gives a message that kills its worker four more chances.",
                id="llmrec.E012",
            )
        )
    resend = llmrec_settings.OUTBOX_RESEND_SECONDS
    if isinstance(resend, bool) or not isinstance(resend, int | float) or resend <= 0:
        errors.append(
            Error(f'LLMREC["OUTBOX_RESEND_SECONDS"] must be a positive number, not {resend!r}.', id="llmrec.E012")
        )
    return errors


def _broker_url() -> str | None:
    try:
        from celery import current_app
    except ImportError:  # pragma: no cover - celery is a dependency
        return None
    app = current_app._get_current_object()
    if app.conf.task_always_eager:
        return None
    return app.conf.broker_url


@register("llmrec")
def check_broker(app_configs: Any = None, **kwargs: Any) -> list:
    url = _broker_url()
    if not url or url.startswith(("memory://", "filesystem://", "cache+")):
        return []
    from celery import current_app
    from kombu.utils.url import maybe_sanitize_url

    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any transport error means: unreachable
        return [
            Error(
                f"The Celery broker at {maybe_sanitize_url(url)} cannot be reached: {exc}",
                hint="Start the broker, fix CELERY_BROKER_URL, or unset it to run tasks eagerly.",
                id="llmrec.E004",
            )
        ]
    return []


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
                if cursor.fetchone() is not None:
                    # The server has pgvector; the first migration creates the extension. An
                    # error here would stop that very `migrate`, so this is only a warning.
                    errors.append(
                        Warning(
                            f"The pgvector extension is not yet created in database {alias!r}.",
                            hint="Run `python manage.py migrate` (it creates the extension).",
                            id="llmrec.W002",
                        )
                    )
                else:
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
    from llmrec_django.encoders import model_dimension

    cursor.execute("SELECT to_regclass('llmrec_django_embeddingversion')")
    if cursor.fetchone()[0] is None:  # not migrated yet
        return []
    try:
        from llmrec_django.backends import backend_options

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
