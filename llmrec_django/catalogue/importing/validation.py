"""Checking and normalising one imported row, in plain Python (no database).

Each ``clean_*`` function takes a row (a dict from a reader: strings from CSV, JSON values from
JSON Lines) and returns a tuple in the column order of that kind's staging table, or raises
``RowError`` with a message that says what is wrong. The rules:

- required fields present and non-empty; text has no NUL character, is valid text, and fits the
  model field's ``max_length``;
- ``attributes`` and ``context``: a JSON object (a dict in JSON Lines, JSON text in CSV); an
  event's ``context`` at most ``EVENT_CONTEXT_MAX_BYTES`` of JSON;
- ``event_type``: a key of ``LLMREC["EVENT_WEIGHTS"]``;
- ``value`` and ``weight``: finite numbers (``value`` may be empty);
- ``timestamp``: ISO 8601 (naive means UTC) or Unix seconds (integer or decimal), from 1900 on
  and at most ``EVENT_FUTURE_SKEW_SECONDS`` after the server's clock; empty means the time of
  the import;
- ``is_active``: true/false, 1/0, yes/no, t/f (empty: unchanged, or true for a new item).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from llmrec_django.catalogue.importing.readers import loads_json
from llmrec_django.conf import llmrec_settings
from llmrec_django.models import Entity, Interaction, Item, Relation, UserProfile, item_content_hash

# The columns of each file kind: required ones must be in a CSV header and non-empty in every
# row; optional ones may be left out (see the clean_* functions for their defaults).
ITEM_COLUMNS = ("external_id", "title")
ITEM_OPTIONAL_COLUMNS = ("description", "category", "attributes", "image_url", "is_active")
USER_COLUMNS = ("external_id",)
USER_OPTIONAL_COLUMNS = ("profile",)
RELATION_COLUMNS = ("head_type", "head_id", "relation", "tail_type", "tail_id")
RELATION_OPTIONAL_COLUMNS = ("weight",)
EVENT_COLUMNS = ("event_id", "user_id", "item_id", "event_type")
EVENT_OPTIONAL_COLUMNS = ("value", "timestamp", "device", "location", "context")

# Node types of a relation end that are not knowledge-graph entities.
ITEM_NODE = "item"
USER_NODE = "user"
ENTITY_NODE = "entity"

DEFAULT_RELATION_WEIGHT = 1.0
EMPTY_JSON_OBJECT = "{}"
# The earliest event time accepted: older is a mistake (a zero date, a time in milliseconds read
# as seconds would be later, not earlier) and near year 1 a UTC offset leaves Python's range.
EARLIEST_EVENT_TIME = datetime(1900, 1, 1, tzinfo=UTC)

_validate_url = URLValidator()  # what the model's URLField accepts (http, https, ftp, ftps)
_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t"})
_FALSE_WORDS = frozenset({"false", "0", "no", "n", "f"})
# A bare number is Unix seconds; anything else must be ISO 8601.
_UNIX_SECONDS = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _max_length(model: Any, field: str) -> int:
    return model._meta.get_field(field).max_length


ITEM_EXTERNAL_ID_MAX = _max_length(Item, "external_id")
ITEM_TITLE_MAX = _max_length(Item, "title")
ITEM_CATEGORY_MAX = _max_length(Item, "category")
ITEM_IMAGE_URL_MAX = _max_length(Item, "image_url")
USER_EXTERNAL_ID_MAX = _max_length(UserProfile, "external_id")
EVENT_ID_MAX = _max_length(Interaction, "event_id")
EVENT_TYPE_MAX = _max_length(Interaction, "event_type")
EVENT_DEVICE_MAX = _max_length(Interaction, "device")
EVENT_LOCATION_MAX = _max_length(Interaction, "location")
RELATION_NAME_MAX = _max_length(Relation, "relation")
ENTITY_TYPE_MAX = _max_length(Entity, "entity_type")
ENTITY_NAME_MAX = _max_length(Entity, "name")


class RowError(ValueError):
    """One row cannot be imported; the message says why (the caller adds file and line)."""


# --- fields ----------------------------------------------------------------------------------


def text_field(row: Mapping[str, Any], key: str, max_length: int | None = None, *, required: bool = False) -> str:
    """A stripped string; integers (JSON Lines ids) become their decimal text."""
    value = row.get(key)
    if value is None:
        value = ""
    elif isinstance(value, str):
        value = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    else:
        raise RowError(f"{key}: expected text, found {type(value).__name__}")
    if not value:
        if required:
            raise RowError(f"{key} is required")
        return value
    if max_length is not None and len(value) > max_length:
        raise RowError(f"{key} is longer than {max_length} characters ({len(value)})")
    if "\x00" in value:
        raise RowError(f"{key} contains a NUL character")
    if not value.isascii():
        _check_encodable(value, key)
    return value


def optional_text_field(row: Mapping[str, Any], key: str, max_length: int | None = None) -> str | None:
    """Like ``text_field`` but ``None`` when the row has no such key (column not in the file)."""
    if key not in row:
        return None
    return text_field(row, key, max_length)


def json_object_field(row: Mapping[str, Any], key: str) -> tuple[dict[str, Any], str]:
    """A JSON object (dict, or JSON text of an object) and its JSON text; empty means ``{}``."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}, EMPTY_JSON_OBJECT
    if isinstance(value, str):
        try:
            value = loads_json(value)
        except ValueError as error:
            raise RowError(f"{key}: invalid JSON ({error})") from None
    if not isinstance(value, dict):
        raise RowError(f"{key} must be a JSON object, found {type(value).__name__}")
    _check_json_strings(value, key)
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError as error:
        raise RowError(f"{key}: {error}") from None
    if not encoded.isascii():
        _check_encodable(encoded, key)
    return value, encoded


def float_field(row: Mapping[str, Any], key: str, default: float | None = None) -> float | None:
    """A finite float; empty or absent gives ``default``."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise RowError(f"{key}: expected a number, found a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond any float
        raise RowError(f"{key}: not a number: {_shorten(value)}") from None
    if not math.isfinite(number):
        raise RowError(f"{key} must be a finite number, found {_shorten(value)}")
    return number


def bool_field(row: Mapping[str, Any], key: str) -> bool | None:
    """True/False from a JSON boolean or a word; ``None`` when absent or empty."""
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value in (0, 1):
            return bool(value)
    elif isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise RowError(f"{key}: expected true or false, found {_shorten(value)}")


def parse_timestamp(value: Any, key: str = "timestamp") -> datetime | None:
    """An aware datetime from ISO 8601 (naive means UTC) or Unix seconds; ``None`` if empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowError(f"{key}: expected a time, found a boolean")
    if isinstance(value, int | float):
        return _from_unix_seconds(value, key)
    if not isinstance(value, str):
        raise RowError(f"{key}: expected a time, found {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if _UNIX_SECONDS.fullmatch(text):
        return _from_unix_seconds(float(text) if not text.isdigit() else int(text), key)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"{key}: not ISO 8601 or Unix seconds: {_shorten(text)}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def event_time(moment: datetime, *, now: datetime, key: str = "timestamp") -> datetime:
    """``moment`` in UTC if an event may have happened then: from 1900 on, and at most
    ``EVENT_FUTURE_SKEW_SECONDS`` after ``now`` (the server's clock); else ``RowError``."""
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise RowError(f"{key}: out of range once in UTC: {moment.isoformat()}") from None
    if moment < EARLIEST_EVENT_TIME:
        raise RowError(f"{key}: {moment.isoformat()} is before {EARLIEST_EVENT_TIME:%Y-%m-%d}")
    skew = float(llmrec_settings.EVENT_FUTURE_SKEW_SECONDS)
    if moment > now + timedelta(seconds=skew):
        raise RowError(
            f"{key}: {moment.isoformat()} is in the future (the server's clock says "
            f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}; events at most {skew:g} s ahead are accepted)"
        )
    return moment


def _from_unix_seconds(seconds: float, key: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise RowError(f"{key}: Unix time out of range: {seconds}") from None


def _check_encodable(text: str, key: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RowError(f"{key} is not valid text (undecodable bytes or lone surrogates)") from None


def _check_json_strings(value: Any, key: str) -> None:
    """PostgreSQL's jsonb cannot hold a NUL character anywhere, in keys or in values."""
    if isinstance(value, str):
        if "\x00" in value:
            raise RowError(f"{key} contains a NUL character")
    elif isinstance(value, dict):
        for name, inner in value.items():
            _check_json_strings(name, key)
            _check_json_strings(inner, key)
    elif isinstance(value, list):
        for inner in value:
            _check_json_strings(inner, key)


def _shorten(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- rows ------------------------------------------------------------------------------------

CleanItem = tuple[str, str, str, str, str, "str | None", "bool | None", str]
CleanUser = tuple[str, "str | None"]
CleanRelation = tuple[str, str, str, str, str, str, str, float]
CleanEvent = tuple[str, str, str, str, "float | None", datetime, str, str, str]


def clean_item(row: Mapping[str, Any]) -> CleanItem:
    """(external_id, title, description, category, attributes JSON, image_url, is_active, content_hash).

    description, category and attributes make up the item's text, so the file states them
    fully (absent means empty); image_url and is_active are ``None`` when absent, which keeps
    an existing item's value.
    """
    external_id = text_field(row, "external_id", ITEM_EXTERNAL_ID_MAX, required=True)
    title = text_field(row, "title", ITEM_TITLE_MAX, required=True)
    description = text_field(row, "description")
    category = text_field(row, "category", ITEM_CATEGORY_MAX)
    attributes, attributes_json = json_object_field(row, "attributes")
    image_url = optional_text_field(row, "image_url", ITEM_IMAGE_URL_MAX)
    if image_url:
        try:
            _validate_url(image_url)
        except ValidationError:
            raise RowError(f"image_url is not a valid URL: {_shorten(image_url)}") from None
    is_active = bool_field(row, "is_active")
    content_hash = item_content_hash(title, description, category, attributes)
    return external_id, title, description, category, attributes_json, image_url, is_active, content_hash


def clean_user(row: Mapping[str, Any]) -> CleanUser:
    """(external_id, profile text); the profile is ``None`` when absent (kept as it is)."""
    external_id = text_field(row, "external_id", USER_EXTERNAL_ID_MAX, required=True)
    return external_id, optional_text_field(row, "profile")


def _node(row: Mapping[str, Any], end: str) -> tuple[str, str, str]:
    """(node kind, entity type or "", id) of the head or tail of a relation."""
    node_type = text_field(row, f"{end}_type", ENTITY_TYPE_MAX, required=True)
    kind = node_type.lower()
    if kind == ITEM_NODE:
        return ITEM_NODE, "", text_field(row, f"{end}_id", ITEM_EXTERNAL_ID_MAX, required=True)
    if kind == USER_NODE:
        return USER_NODE, "", text_field(row, f"{end}_id", USER_EXTERNAL_ID_MAX, required=True)
    return ENTITY_NODE, node_type, text_field(row, f"{end}_id", ENTITY_NAME_MAX, required=True)


def clean_relation(row: Mapping[str, Any]) -> CleanRelation:
    """(head kind, head entity type, head id, relation, tail kind, tail entity type, tail id, weight).

    A type "item" or "user" (any case) names an item or a user profile by external id; any
    other type is a knowledge-graph entity of that type whose name is the id.
    """
    head = _node(row, "head")
    relation = text_field(row, "relation", RELATION_NAME_MAX, required=True)
    tail = _node(row, "tail")
    weight = float_field(row, "weight", DEFAULT_RELATION_WEIGHT)
    return (*head, relation, *tail, weight)


def clean_event(row: Mapping[str, Any], event_types: Collection[str], default_timestamp: datetime) -> CleanEvent:
    """(event_id, user external id, item external id, event_type, value, timestamp, device,
    location, context JSON)."""
    event_id = text_field(row, "event_id", EVENT_ID_MAX, required=True)
    user_id = text_field(row, "user_id", USER_EXTERNAL_ID_MAX, required=True)
    item_id = text_field(row, "item_id", ITEM_EXTERNAL_ID_MAX, required=True)
    event_type = text_field(row, "event_type", EVENT_TYPE_MAX, required=True)
    if event_type not in event_types:
        raise RowError(f"unknown event_type {event_type!r} (known: {', '.join(sorted(event_types))})")
    value = float_field(row, "value")
    timestamp = parse_timestamp(row.get("timestamp"))
    timestamp = default_timestamp if timestamp is None else event_time(timestamp, now=default_timestamp)
    device = text_field(row, "device", EVENT_DEVICE_MAX)
    location = text_field(row, "location", EVENT_LOCATION_MAX)
    context = row.get("context")
    context_json = EMPTY_JSON_OBJECT if context is None or context == "" else json_object_field(row, "context")[1]
    limit = int(llmrec_settings.EVENT_CONTEXT_MAX_BYTES)
    if len(context_json.encode("utf-8")) > limit:
        raise RowError(f"context: {len(context_json.encode('utf-8'))} bytes of JSON, at most {limit}")
    return event_id, user_id, item_id, event_type, value, timestamp, device, location, context_json
