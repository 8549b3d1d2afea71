"""Every error of the API as JSON, in one shape::

    {"error": {"status": 404, "code": "not_found", "message": "No user 'u9' in tenant 'default'.",
               "details": null}}

``details`` carries field errors (``{"k": ["A valid integer is required."]}``) or, for rejected
event batches, one entry per bad row (``[{"index": 3, "field": "item_id", "message": ...}]``).
``exception_handler`` is the views' DRF exception handler (set per view, so the site's own DRF
views keep theirs); ``middleware.ApiErrorMiddleware`` uses ``json_error`` for what happens
outside the views (unknown paths, oversized bodies, unexpected exceptions).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from llmrec_django.catalogue.events import EventsRejected
from llmrec_django.database.tenancy import UnknownTenant
from llmrec_django.recommend.conversations import ConversationError
from llmrec_django.recommend.lists import UnknownItem, UnknownUser


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with stored data."
    default_code = "conflict"


def error_body(status_code: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"status": status_code, "code": code, "message": message, "details": details}}


class ApiErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text='What went wrong, for programs: "invalid", "not_found", "throttled"...')
    message = serializers.CharField(help_text="What went wrong, for people.")
    details = serializers.JSONField(
        allow_null=True, help_text="Errors per field, or per row of an event batch ({index, field, message}); or null."
    )


class ApiErrorSerializer(serializers.Serializer):
    """Every error of the API has this shape (``error_body``)."""

    error = ApiErrorDetailSerializer()


def json_error(status_code: int, message: str | None = None, code: str | None = None, **headers: str) -> JsonResponse:
    """A JSON error response outside DRF (middleware), never to be stored by a cache."""
    phrase = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else "Error"
    response = JsonResponse(
        error_body(status_code, code or phrase.lower().replace(" ", "_").replace("-", "_"), message or phrase),
        status=status_code,
    )
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _service_error(exc: Exception) -> exceptions.APIException | None:
    """The API exception for an error raised by a service."""
    if isinstance(exc, UnknownUser | UnknownItem | UnknownTenant):
        return exceptions.NotFound(str(exc).strip("'\""))
    if isinstance(exc, EventsRejected):
        error = exceptions.ValidationError(exc.errors)
        error.detail = exc.errors
        error.summary = str(exc)
        return error
    if isinstance(exc, ConversationError):
        return exceptions.ValidationError({"non_field_errors": [str(exc)]})
    return None


def _first_message(details: Any) -> str | None:
    if isinstance(details, list) and details:
        return _first_message(details[0])
    if isinstance(details, dict) and details:
        key, value = next(iter(details.items()))
        inner = _first_message(value)
        if key in ("non_field_errors", "message", "detail") or inner is None:
            return inner
        return f"{key}: {inner}"
    if isinstance(details, str):
        return details
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with service errors mapped and the body in the API's error shape."""
    exc = _service_error(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: ApiErrorMiddleware answers a JSON 500
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail
        message = getattr(exc, "summary", None) or _first_message(details) or "Invalid input."
        code = "invalid"
    else:
        detail = getattr(exc, "detail", None)
        details = None
        message = str(detail) if detail is not None else HTTPStatus(response.status_code).phrase
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = codes if isinstance(codes, str) else HTTPStatus(response.status_code).phrase.lower().replace(" ", "_")
    response.data = error_body(response.status_code, code, message, details)
    return response
