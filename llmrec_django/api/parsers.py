"""The API's only request parser: JSON, at most ``LLMREC["API_MAX_BODY_BYTES"]`` bytes (counted
while reading, whatever Content-Length said), strict (no NaN or Infinity), no NUL characters
anywhere (PostgreSQL text and jsonb cannot hold them)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from llmrec_django.api.errors import RequestTooLarge
from llmrec_django.conf import llmrec_settings

READ_CHUNK = 64 * 1024


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) holding a NUL character, if any."""
    if isinstance(value, str):
        return path or "(body)" if "\x00" in value else None
    if isinstance(value, dict):
        for key, inner in value.items():
            if "\x00" in key:
                return f"{path}.{key!r}" if path else repr(key)
            found = _find_nul(inner, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _find_nul(inner, f"{path}[{index}]")
            if found:
                return found
    return None


def read_limited(stream: Any, limit: int) -> bytes:
    """The whole stream, or ``RequestTooLarge`` as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return {}
        raw = read_limited(stream, int(llmrec_settings.API_MAX_BODY_BYTES))
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
            where = _find_nul(data)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding} text ({exc}).") from None
        except ValueError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        if where:
            raise ParseError(f"NUL characters are not allowed (in {where}).")
        return data
