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
- llmrec.E012  an API view lets anonymous callers in outside ``api.permissions.PUBLIC_ENDPOINTS``
- llmrec.E013  an API throttle's rate cannot be parsed (every request would fail)
- llmrec.E014  TASK_MAX_DELIVERIES or OUTBOX_RESEND_SECONDS is not a positive number, or
                REFRESH_COALESCE_USERS or REFRESH_DELAY_SECONDS a negative one, or the delay
                is not under half the broker's visibility timeout
- llmrec.E015  API_KEY_CACHE_SECONDS is not a number of seconds from 0 to 300
- llmrec.E016  TRAINING["RERANKER"]["weight"] is not a number from 0 to 1
- llmrec.E017  TRAINING["HELD_OUT_ITEMS"] is not a whole number of at least 1
- llmrec.W001  the active embedding version was made with another dimension (database check)
- llmrec.W002  pgvector is available but not created yet (migrate creates it)
- llmrec.W003  an API throttle has no rate: that kind of caller is not throttled (deploy)
- llmrec.W004  the throttle counters live in a per-process (or no) cache (deploy)
- llmrec.W005  DEBUG is on (deploy)
- llmrec.W006  Celery runs tasks eagerly, inside the web process (deploy)

Database checks run with ``manage.py check --database default`` and before ``migrate``; deploy
checks with ``manage.py check --deploy``.
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
                id="llmrec.E014",
            )
        )
    resend = llmrec_settings.OUTBOX_RESEND_SECONDS
    if isinstance(resend, bool) or not isinstance(resend, int | float) or resend <= 0:
        errors.append(
            Error(f'LLMREC["OUTBOX_RESEND_SECONDS"] must be a positive number, not {resend!r}.', id="llmrec.E014")
        )
    delay = llmrec_settings.REFRESH_DELAY_SECONDS
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 3600:
        errors.append(
            Error(
                f'LLMREC["REFRESH_DELAY_SECONDS"] must be a number of seconds from 0 to 3600, not {delay!r}.',
                id="llmrec.E014",
            )
        )
    else:
        visibility = _visibility_timeout()
        if delay > 0 and visibility is not None and delay * 2 > visibility:
            errors.append(
                Error(
                    f'LLMREC["REFRESH_DELAY_SECONDS"] ({delay}) must be under half the broker\'s visibility '
                    f"timeout ({visibility} s): a delayed message is held unacknowledged until it runs, and "
                    "the broker would deliver it again (and again) meanwhile.",
                    hint='Raise CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] or lower the delay (0: none).',
                    id="llmrec.E014",
                )
            )
    coalesce = llmrec_settings.REFRESH_COALESCE_USERS
    if isinstance(coalesce, bool) or not isinstance(coalesce, int) or coalesce < 0:
        errors.append(
            Error(
                f'LLMREC["REFRESH_COALESCE_USERS"] must be a whole number of at least 0, not {coalesce!r}.',
                id="llmrec.E014",
            )
        )
    return errors


@register("llmrec", Tags.security)
def check_api_key_cache(app_configs: Any = None, **kwargs: Any) -> list:
    seconds = llmrec_settings.API_KEY_CACHE_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 300:
        return [
            Error(
                f'LLMREC["API_KEY_CACHE_SECONDS"] must be a number of seconds from 0 to 300, not {seconds!r}.',
                hint="Other processes keep accepting a revoked key for this long; 10 is the default.",
                id="llmrec.E015",
            )
        ]
    return []


@register("llmrec")
def check_reranker_weight(app_configs: Any = None, **kwargs: Any) -> list:
    weight = llmrec_settings.TRAINING["RERANKER"].get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        return [
            Error(
                f'LLMREC["TRAINING"]["RERANKER"]["weight"] must be a number from 0 to 1, not {weight!r}.',
                hint="The re-ranker's share of the order of a list's top: 1 orders by it alone, 0 ignores it.",
                id="llmrec.E016",
            )
        ]
    return []


@register("llmrec")
def check_held_out_items(app_configs: Any = None, **kwargs: Any) -> list:
    held_out = llmrec_settings.TRAINING.get("HELD_OUT_ITEMS")
    if isinstance(held_out, bool) or not isinstance(held_out, int) or held_out < 1:
        return [
            Error(
                f'LLMREC["TRAINING"]["HELD_OUT_ITEMS"] must be a whole number of at least 1, not {held_out!r}.',
                hint="Each user's last N liked items are held out of training for validation and promotion; 1 is the default.",
                id="llmrec.E017",
            )
        ]
    return []


def _visibility_timeout() -> float | None:
    """Seconds after which a Redis or SQS broker delivers an unacknowledged message again (None
    for brokers without one, such as RabbitMQ, or tasks run eagerly)."""
    url = _broker_url()
    if not url or not url.startswith(("redis://", "rediss://", "sqs://")):
        return None
    return float((_celery_conf().broker_transport_options or {}).get("visibility_timeout", 3600))


def _broker_url() -> str | None:
    conf = _celery_conf()
    if conf.task_always_eager:
        return None
    return conf.broker_url


def _celery_conf():
    from celery import current_app

    return current_app._get_current_object().conf


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


# --- the REST API and deployment ----------------------------------------------------------------


@register("llmrec", Tags.security)
def check_api_permissions(app_configs: Any = None, **kwargs: Any) -> list:
    from llmrec_django.api.permissions import HTTP_METHODS, PUBLIC_ENDPOINTS, allows_anonymous, api_views

    errors = []
    for name, view in api_views():
        implemented = [method for method in HTTP_METHODS if hasattr(view, method.lower())]
        public = PUBLIC_ENDPOINTS.get(name, frozenset())
        opened = [method for method in implemented if method not in public and allows_anonymous(view, method)]
        if opened:
            classes = [cls.__name__ for cls in view.permission_classes] or ["none"]
            errors.append(
                Error(
                    f"The API endpoint {name!r} ({type(view).__name__}) lets anonymous callers "
                    f"{', '.join(opened)}: its permission classes are {', '.join(classes)}.",
                    hint="Give the view permission classes that require a login or an API key "
                    "(llmrec_django.api.permissions), or, if it is meant to be public, add it to PUBLIC_ENDPOINTS there.",
                    id="llmrec.E012",
                )
            )
    return errors


def _api_throttles() -> list[type]:
    """The throttle classes the API's views use, each once, in order."""
    from llmrec_django.api.permissions import api_views

    found: dict[type, None] = {}
    for _, view in api_views():
        for cls in view.throttle_classes:
            found.setdefault(cls, None)
    return list(found)


THROTTLE_RATE_HINT = (
    'Set REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["{scope}"] or LLMREC["API_THROTTLE_RATES"]["{kind}"] '
    'to "<number>/<second|minute|hour|day>", e.g. "600/minute".'
)


@register("llmrec", Tags.security)
def check_api_throttle_rates(app_configs: Any = None, **kwargs: Any) -> list:
    errors = []
    for cls in _api_throttles():
        throttle = cls()
        rate = throttle.get_rate()
        if rate is None:
            continue  # check_api_throttles_configured reports it for deployment
        try:
            throttle.parse_rate(rate)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            errors.append(
                Error(
                    f"The API throttle {cls.__name__} has the rate {rate!r}, which cannot be parsed: "
                    "every API request would fail.",
                    hint=THROTTLE_RATE_HINT.format(scope=cls.scope, kind=getattr(cls, "kind", cls.scope)),
                    id="llmrec.E013",
                )
            )
    return errors


@register("llmrec", Tags.security, deploy=True)
def check_api_throttles_configured(app_configs: Any = None, **kwargs: Any) -> list:
    return [
        Warning(
            f"The API throttle {cls.__name__} has no rate: the callers it counts are not throttled.",
            hint=THROTTLE_RATE_HINT.format(scope=cls.scope, kind=getattr(cls, "kind", cls.scope)),
            id="llmrec.W003",
        )
        for cls in _api_throttles()
        if cls().get_rate() is None
    ]


@register("llmrec", Tags.security, deploy=True)
def check_throttle_cache(app_configs: Any = None, **kwargs: Any) -> list:
    """The throttles count requests in Django's default cache; only a cache shared by every web
    process (Redis, Memcached, the database) counts them once for the whole site."""
    from django.core.cache import caches
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    hint = (
        'Use a shared cache: CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", '
        '"LOCATION": "redis://..."} (see example_site/settings_production.py).'
    )
    if isinstance(cache, LocMemCache):
        problem = "keeps the API's throttle counters per process: each web process allows the full rate"
    elif isinstance(cache, DummyCache):
        problem = "stores nothing: the API's throttles never limit anyone"
    else:
        return []
    return [Warning(f"The default cache ({type(cache).__name__}) {problem}.", hint=hint, id="llmrec.W004")]


@register("llmrec", Tags.security, deploy=True)
def check_debug(app_configs: Any = None, **kwargs: Any) -> list:
    if not settings.DEBUG:
        return []
    return [
        Warning(
            "DEBUG is on: error pages show settings and code to anyone, and every process keeps each "
            "SQL query it runs in memory (an embedding build or a bulk import runs thousands).",
            hint="Set DEBUG = False in production (example_site/settings_production.py does).",
            id="llmrec.W005",
        )
    ]


@register("llmrec", deploy=True)
def check_celery_not_eager(app_configs: Any = None, **kwargs: Any) -> list:
    if not _celery_conf().task_always_eager:
        return []
    return [
        Warning(
            "Celery runs tasks eagerly: embedding builds, re-embedding after catalogue changes and "
            "training run inside the web process, in the request that starts them.",
            hint="Set a broker (CELERY_BROKER_URL, e.g. redis://...) and run workers: celery -A <project> worker.",
            id="llmrec.W006",
        )
    ]
