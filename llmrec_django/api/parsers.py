"""The API's only request parser: JSON, at most ``LLMREC["API_MAX_BODY_BYTES"]`` bytes (counted
while reading, whatever Content-Length said), strict: numbers must be finite (no NaN, Infinity
or ``1e400``, which Python reads as infinity) and integers at most ``MAX_INTEGER_DIGITS`` digits
long, arrays and objects nested at most ``MAX_JSON_DEPTH`` levels, and no NUL characters
anywhere (PostgreSQL text and jsonb cannot hold them)."""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

import numpy as np
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from llmrec_django.api.errors import RequestTooLarge
from llmrec_django.conf import llmrec_settings

READ_CHUNK = 64 * 1024
# Deep enough for any event context or item attributes; shallow enough that nothing downstream
# (the parser, the NUL check, the JSON encoder writing jsonb, the renderer) recurses far. Checked
# before parsing, so a body of a million "[" costs a scan, not a RecursionError.
MAX_JSON_DEPTH = 32
# Integers longer than this are refused: 10**100 still converts to a finite float, and Python
# would spend quadratic time on a 4000-digit literal before its own limit refuses it.
MAX_INTEGER_DIGITS = 100

_OPEN, _CLOSE = np.frombuffer(b"[{", dtype=np.uint8), np.frombuffer(b"]}", dtype=np.uint8)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range (numbers must be finite)")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer has {len(text.lstrip('-'))} digits (at most {MAX_INTEGER_DIGITS})")
    return int(text)


def nesting_depth(utf8: bytes) -> int:
    """How deeply the arrays and objects of the JSON text ``utf8`` nest, found without parsing
    it (no recursion): brackets count outside strings, a quote after an odd run of backslashes
    is escaped. A few vectorised passes: about as long as parsing, for the largest bodies."""
    data = np.frombuffer(utf8, dtype=np.uint8)
    quote = data == ord('"')
    backslashes = np.flatnonzero(data == ord("\\"))
    if len(backslashes):
        breaks = np.flatnonzero(np.diff(backslashes) != 1)
        last, first = np.append(breaks, len(backslashes) - 1), np.insert(breaks + 1, 0, 0)
        escaped = backslashes[last[(last - first) % 2 == 0]] + 1  # after a run of odd length
        quote[escaped[escaped < len(data)]] = False
    # Parity of the quotes so far (uint8 wraps at 256, which keeps parity): odd is inside a string.
    inside = (np.cumsum(quote, dtype=np.uint8) & 1).astype(bool)
    steps = np.isin(data, _OPEN).astype(np.int8) - np.isin(data, _CLOSE)
    steps[inside] = 0
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


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
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding} text ({exc}).") from None
        depth = nesting_depth(raw if codecs.lookup(encoding).name == "utf-8" else text.encode("utf-8"))
        if depth > MAX_JSON_DEPTH:
            raise ParseError(f"The JSON is nested too deeply ({depth} levels; at most {MAX_JSON_DEPTH}).")
        try:
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_short_int)
        except ValueError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
        where = _find_nul(data)
        if where:
            raise ParseError(f"NUL characters are not allowed (in {where}).")
        return data
