"""The REST API of llmrec_django (Django REST framework), versioned under ``v1/``.

A site mounts it with::

    # urls.py
    path("api/llmrec/", include("llmrec_django.api.urls")),   # -> /api/llmrec/v1/...

    # settings.py
    INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "django_filters"]
    MIDDLEWARE.insert(1, "llmrec_django.api.middleware.ApiErrorMiddleware")  # JSON 404/413/500, API paths
    REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

Modules: ``views`` (thin: they check access and call the services ``recommend``, ``events``,
``conversations``, ``privacy``), ``serializers``, ``authentication`` (session with CSRF, API
keys), ``permissions`` (who may touch which profile; the tenant of a request), ``throttles``,
``parsers`` (JSON with a size limit, no NaN), ``errors`` (every error as JSON),
``middleware``, ``schema`` (OpenAPI extensions), ``urls``.
"""
