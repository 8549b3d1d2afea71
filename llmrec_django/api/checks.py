"""System checks of the REST API: no view open to anonymous callers beyond its ``public_methods``,
throttle rates that parse and a shared cache for their counters (``llmrec.E012``, ``E013``,
``W003``, ``W004``; the list of every id is in ``llmrec_django.conf.checks``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from django.urls import URLPattern, URLResolver

from llmrec_django.api import urls
from llmrec_django.api.permissions import HTTP_METHODS, allows_anonymous, public_methods


def api_views() -> list[tuple[str, Any]]:
    """``(URL name, view instance)`` for every route of the API (``llmrec_django.api.urls``), made
    the way ``as_view()`` makes them, whether or not the site mounts the API."""
    found = []

    def walk(patterns: list) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
                callback = pattern.callback
                found.append((pattern.name, callback.cls(**getattr(callback, "initkwargs", {}))))

    walk(urls.urlpatterns)
    return found


# --- the REST API and deployment ----------------------------------------------------------------


@register("llmrec", Tags.security)
def check_api_permissions(app_configs: Any = None, **kwargs: Any) -> list:
    errors = []
    for name, view in api_views():
        implemented = [method for method in HTTP_METHODS if hasattr(view, method.lower())]
        public = public_methods(view)
        opened = [method for method in implemented if method not in public and allows_anonymous(view, method)]
        if opened:
            classes = [cls.__name__ for cls in view.permission_classes] or ["none"]
            errors.append(
                Error(
                    f"The API endpoint {name!r} ({type(view).__name__}) lets anonymous callers "
                    f"{', '.join(opened)}: its permission classes are {', '.join(classes)}.",
                    hint="Give the view permission classes that require a login or an API key "
                    "(llmrec_django.api.permissions), or, if it is meant to be public, list the methods in its public_methods.",
                    id="llmrec.E012",
                )
            )
    return errors


def _api_throttles() -> list[type]:
    """The throttle classes the API's views use, each once, in order."""
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
