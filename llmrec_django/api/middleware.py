"""Two middleware classes a site adds to ``MIDDLEWARE``, right after ``SecurityMiddleware``.

``UnstorableInputMiddleware`` answers 400 to any request whose path or query string holds a
character PostgreSQL cannot store (a NUL, ``%00``): no view of the site or of the app then meets
one, where it would be a 500 at the first query, or a row that can never be written. (On the
API's paths only the query string is checked: its routes answer 404 to a NUL in an id.)

``ApiErrorMiddleware``: JSON errors for the API's paths outside its views: unknown URLs (404), bodies over
``LLMREC["API_MAX_BODY_BYTES"]`` by Content-Length (413, before anything is read), a bad
Content-Length (400), and unexpected exceptions (500, logged with the traceback). Other paths
pass untouched.

Add it to ``MIDDLEWARE`` before ``CommonMiddleware`` (right after ``SecurityMiddleware``), so it
also turns the errors of the middleware after it into JSON. A path without its trailing slash
is a JSON 404 that names the right path (rather than CommonMiddleware's redirect, which would
drop a POST body).
"""

from __future__ import annotations

import logging

from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponseBadRequest
from django.urls import NoReverseMatch, is_valid_path, reverse

from llmrec_django.api.errors import json_error
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.storable import is_storable_text

logger = logging.getLogger("llmrec_django.api")

ROOT_URL_NAME = "llmrec_api:root"


def api_prefix() -> str | None:
    """Where the site mounted the API (e.g. ``/api/llmrec/``), without the version."""
    try:
        root = reverse(ROOT_URL_NAME)  # e.g. /api/llmrec/v1/
    except NoReverseMatch:
        return None
    return root.rstrip("/").rsplit("/", 1)[0] + "/"


UNSTORABLE_INPUT = "The request holds a character that cannot be stored (a NUL, %00) in its {where}."


class UnstorableInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        prefix = api_prefix()
        api = prefix is not None and request.path.startswith(prefix)
        # The API's own routes refuse a NUL in an id already (not found: no such id can exist).
        where = _unstorable_part(request, check_path=not api)
        if where is None:
            return self.get_response(request)
        message = UNSTORABLE_INPUT.format(where=where)
        if api:
            return json_error(400, message)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _unstorable_part(request, *, check_path: bool) -> str | None:
    if check_path and not is_storable_text(request.path):
        return "path"
    for key, values in request.GET.lists():
        if not is_storable_text(key) or not all(is_storable_text(value) for value in values):
            return "query string"
    return None


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _is_api(self, request) -> bool:
        prefix = api_prefix()
        return prefix is not None and request.path.startswith(prefix)

    def __call__(self, request):
        if not self._is_api(request):
            return self.get_response(request)
        limit = int(llmrec_settings.API_MAX_BODY_BYTES)
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            declared = int(length)
        except ValueError:
            return json_error(400, f"Invalid Content-Length header: {length[:40]!r}.")
        if declared < 0:
            return json_error(400, "Invalid Content-Length header: negative.")
        if declared > limit:
            return json_error(413, f"The request body ({declared} bytes) is larger than the limit of {limit} bytes.",
                              code="request_too_large")  # fmt: skip
        if not request.path_info.endswith("/") and is_valid_path(
            request.path_info + "/", getattr(request, "urlconf", None)
        ):
            # CommonMiddleware would redirect (and drop the body) or, with DEBUG, raise.
            return json_error(
                404, f"No API endpoint at {request.path}; the API's paths end with a slash: {request.path}/."
            )
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and "json" not in content_type:
            message = {404: f"No API endpoint at {request.path}."}.get(response.status_code)
            return json_error(response.status_code, message)
        return response

    def process_exception(self, request, exception):
        if not self._is_api(request):
            return None
        if isinstance(exception, Http404):
            return json_error(404, str(exception) or f"No API endpoint at {request.path}.")
        if isinstance(exception, PermissionDenied):
            return json_error(403, str(exception) or None)
        if isinstance(exception, RequestDataTooBig):
            return json_error(413, str(exception), code="request_too_large")
        if isinstance(exception, SuspiciousOperation | BadRequest):
            return json_error(400, str(exception) or None)
        logger.exception("Unexpected error in the API at %s", request.path)
        return json_error(500, "An unexpected error occurred; it has been logged.")
