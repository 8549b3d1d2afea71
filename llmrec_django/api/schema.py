"""OpenAPI extensions (drf-spectacular): how the API-key authentication appears in the schema,
and the API views' ``LLMRecAutoSchema``, which documents what the generated schema leaves out:
that anonymous callers may use the public endpoints, and the JSON errors every operation can
answer (``errors.ApiErrorSerializer``). Being the views' own schema class, it needs nothing in
the site's ``SPECTACULAR_SETTINGS``.

``SchemaView`` serves the schema of this API alone (``ApiSchemaGenerator``): the host site's own
endpoints, or another app's, are not ours to document, nor to show anonymous callers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.urls import URLPattern
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from llmrec_django.api.errors import ApiErrorSerializer
from llmrec_django.api.permissions import public_methods

# The 4xx errors any operation of the API can answer (ApiErrorMiddleware and the views'
# exception handler make each one JSON), and those only an operation with a body can.
ERROR_RESPONSES = {
    400: "Invalid input: the query, the body, or the X-LLMRec-Tenant header; details has the errors per field.",
    401: "Authentication needed (a login or Authorization: Api-Key <key>), or the API key is invalid or revoked.",
    403: "Not allowed: another user's events, a CSRF failure, or a tenant the caller may not use.",
    404: "Not found; another user's data answers the same, so nobody can probe which users exist.",
    429: "Too many requests from this caller; Retry-After says in how many seconds to try again.",
}
BODY_ERROR_RESPONSES = {
    413: 'The body is larger than LLMREC["API_MAX_BODY_BYTES"].',
    415: "The body is not JSON (Content-Type: application/json).",
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "llmrec_django.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'API key issued by staff in the admin, sent as "Api-Key <key>".',
        }


class LLMRecAutoSchema(AutoSchema):
    def get_auth(self):
        """Authentication is optional exactly on the operations ``public_methods``
        names: the schema states the policy, not what the permission classes happen to allow, so
        that the Schemathesis test (its ``ignored_auth`` check) and ``llmrec.E012`` hold the
        views to it."""
        auths = [auth for auth in super().get_auth() if auth]
        if self.method in public_methods(self.view):
            auths.append({})
        return auths

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        errors = dict(ERROR_RESPONSES)
        if "requestBody" in operation:
            errors.update(BODY_ERROR_RESPONSES)
        error_schema = self.resolve_serializer(ApiErrorSerializer, "response").ref
        for status_code, description in sorted(errors.items()):
            operation["responses"].setdefault(
                str(status_code),
                {"content": {"application/json": {"schema": error_schema}}, "description": description},
            )
        return operation


class ApiEndpointEnumerator(EndpointEnumerator):
    """drf-spectacular's walk over the site's URLs, keeping the routes to ``views`` only (at
    whatever path the site mounts them)."""

    def __init__(self, patterns: Any = None, urlconf: Any = None, *, views: frozenset[Callable]):
        super().__init__(patterns, urlconf)
        self.views = views

    def should_include_endpoint(self, path: str, callback: Callable) -> bool:
        return callback in self.views and super().should_include_endpoint(path, callback)


class ApiSchemaGenerator(SchemaGenerator):
    """The schema of the routes to ``views`` only."""

    def __init__(self, *args: Any, views: frozenset[Callable], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.endpoint_inspector_cls = partial(ApiEndpointEnumerator, views=views)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema of the routes in ``api_urlpatterns`` (``api.urls`` passes its own), public."""

    public_methods = frozenset({"GET"})
    api_urlpatterns: Sequence[URLPattern] = ()

    @property
    def generator_class(self) -> Callable[..., SchemaGenerator]:
        return partial(ApiSchemaGenerator, views=frozenset(pattern.callback for pattern in self.api_urlpatterns))


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI over the schema, public."""

    public_methods = frozenset({"GET"})


class RedocView(SpectacularRedocView):
    """ReDoc over the schema, public."""

    public_methods = frozenset({"GET"})
