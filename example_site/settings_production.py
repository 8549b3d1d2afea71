"""Production settings of the example site: the base settings with DEBUG off, HTTPS only, and the
caches and queues shared between processes. Use it with
``DJANGO_SETTINGS_MODULE=example_site.settings_production``; ``manage.py check --deploy`` is
clean with it (tested).

Required environment (a missing one stops the process with an error that names it):
- ``DJANGO_SECRET_KEY``: a long random string (``python -c "import secrets; print(secrets.token_urlsafe(50))"``).
- ``DJANGO_ALLOWED_HOSTS``: the site's host names, comma-separated.
- ``DJANGO_CACHE_URL``: ``redis://host:6379/2``: the cache every web process shares, so the
  API's throttle counters (and cached pages) are counted once for the site, not per process.
- ``CELERY_BROKER_URL``: without a broker, embedding builds and training would run inside web requests.

Optional: ``DATABASE_URL`` (else the embedded server, see ``settings``), ``DJANGO_HSTS_SECONDS``
(one year), ``LLMREC_TRUSTED_PROXIES`` (``LLMREC["TRUSTED_PROXIES"]``: the proxies in front that
append to ``X-Forwarded-For``), ``DJANGO_STATIC_ROOT`` (where ``collectstatic`` writes the static files; else
``LLMREC_HOME/static``). The web processes serve the static files themselves (WhiteNoise), from
what ``manage.py collectstatic`` wrote there: run it before the first start and after each
upgrade (the Docker image runs it when it is built); the pages name the files by the hashed names
in its manifest, and a page naming a file missing from it is an error, not a broken link. TLS is expected to end at a proxy in front of the app that sets
``X-Forwarded-Proto: https`` (and strips that header from what clients send).
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from example_site.settings import *  # noqa: F403


def _required(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"Set {name} in the environment for production: {what}.")
    return value


DEBUG = False
SECRET_KEY = _required("DJANGO_SECRET_KEY", "a long random string that signs sessions and tokens")
ALLOWED_HOSTS = [
    host.strip()
    for host in _required("DJANGO_ALLOWED_HOSTS", "the site's host names, comma-separated").split(",")
    if host.strip()
]
_required("CELERY_BROKER_URL", "redis://... or amqp://..., so that long tasks run in workers, not in requests")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _required("DJANGO_CACHE_URL", "redis://host:6379/2, the cache shared by every web process"),
    }
}

# HTTPS only: redirect plain HTTP, tell browsers to come back over HTTPS for a year (subdomains
# included, eligible for the browsers' preload list), and never send cookies in the clear.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 365 * 24 * 3600))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# The reverse proxies in front of the site that append to X-Forwarded-For (the TLS proxy: 1), so
# anonymous callers are throttled by the address the nearest one saw, not all as the proxy.
if os.environ.get("LLMREC_TRUSTED_PROXIES", "").strip():
    try:
        LLMREC = {**LLMREC, "TRUSTED_PROXIES": int(os.environ["LLMREC_TRUSTED_PROXIES"])}  # noqa: F405
    except ValueError:
        raise ImproperlyConfigured(
            f"LLMREC_TRUSTED_PROXIES must be a whole number (the proxies in front of the site), "
            f"not {os.environ['LLMREC_TRUSTED_PROXIES']!r}."
        ) from None

# Static files served by the web processes (WhiteNoise, right after the security middleware so
# plain HTTP is still redirected first): names carry a hash of the content (cached for a year by
# browsers and CDNs) and are kept compressed, both made once by ``collectstatic``.
MIDDLEWARE = [*MIDDLEWARE]  # noqa: F405
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or STATIC_ROOT)  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    **globals().get("STORAGES", {}),  # the base settings' own (e.g. an artifact storage), if any
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

