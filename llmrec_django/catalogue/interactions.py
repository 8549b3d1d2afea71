"""A tenant's interactions as parallel arrays (the collaborative model, the sequence models and
the blend's snapshot learn from them), read in bulk.

Usage::

    from llmrec_django.catalogue.interactions import load_events, load_interactions

    data = load_interactions(tenant)                     # positive weights, oldest first
    every = load_interactions(tenant, positive_only=False)
    steps = load_events(tenant, ["view", "purchase"])    # these types, weight 1 each

The rows travel as binary ``COPY`` (``database.columns``) straight into numpy arrays: no model
instance or tuple per event, so ten million events take seconds and memory in proportion to
the arrays (about 40 bytes an event while reading, 32 in the result).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from django.db import connection

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.interest import event_weights
from llmrec_django.database.columns import read_columns
from llmrec_django.models import Interaction, Tenant


@dataclass
class Interactions:
    """A tenant's positive interactions as parallel arrays of database ids."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    weights: np.ndarray
    times: np.ndarray  # Unix seconds


def load_interactions(tenant: Tenant | int, *, positive_only: bool = True) -> Interactions:
    """Every interaction of the tenant with a positive weight, oldest first (ties: by id); with
    ``positive_only=False`` every one with a non-zero weight (dislikes, poor ratings: negative).
    Weights are ``LLMREC["EVENT_WEIGHTS"]`` (ratings signed around 3 stars), without time decay."""
    types = list(llmrec_settings.EVENT_WEIGHTS)
    columns = _read_events(tenant, types, only_types=None)
    weights = _weights(columns["type"], columns["value"], types)
    return _oldest_first(columns, weights, weights > 0 if positive_only else weights != 0)


def load_events(tenant: Tenant | int, event_types: Collection[str]) -> Interactions:
    """The tenant's events of ``event_types``, oldest first (ties: by id), weight 1 each."""
    columns = _read_events(tenant, [], only_types=sorted(event_types))
    return _oldest_first(columns, np.ones(len(columns["id"])), None)


def _read_events(tenant: Tenant | int, types: list[str], only_types: list[str] | None) -> dict[str, np.ndarray]:
    """The tenant's events as columns: id, user, item, ``type`` (1 + the position of the event
    type in ``types``, 0 for another type), ``value`` (NaN where none) and ``time``."""
    meta, name = Interaction._meta, connection.ops.quote_name
    column = {
        field: name(meta.get_field(field).column) for field in ("user", "item", "event_type", "value", "timestamp")
    }
    sql = (
        f"SELECT {name(meta.pk.column)}::int8, {column['user']}::int8, {column['item']}::int8, "
        f"COALESCE(array_position(%s::text[], {column['event_type']}::text), 0)::int2, "
        f"COALESCE({column['value']}, 'NaN')::float8, {column['timestamp']}::timestamptz "
        f"FROM {name(meta.db_table)} WHERE {name(meta.get_field('tenant').column)} = %s"
    )
    params: list = [types, tenant.pk if isinstance(tenant, Tenant) else int(tenant)]
    if only_types is not None:
        sql += f" AND {column['event_type']} = ANY(%s::text[])"
        params.append(only_types)
    return read_columns(
        sql,
        params,
        [
            ("id", "int8"),
            ("user", "int8"),
            ("item", "int8"),
            ("type", "int2"),
            ("value", "float8"),
            ("time", "timestamptz"),
        ],
    )


def _weights(codes: np.ndarray, values: np.ndarray, types: list[str]) -> np.ndarray:
    """``core.interest.event_weights`` of every event, computed once per event type and once per
    distinct rating rather than once per event (the same figures, in a fraction of the time)."""
    weights_setting = llmrec_settings.EVENT_WEIGHTS
    none = [None] * len(types)
    per_code = np.concatenate([[0.0], event_weights(types, none, np.zeros(len(types)), weights_setting, 0.0)])
    weights = per_code[codes]
    if "rating" in types:
        rated = codes == types.index("rating") + 1
        stars, position = np.unique(values[rated], return_inverse=True)  # NaN (no value) once
        per_stars = event_weights(["rating"] * len(stars), stars.tolist(), np.zeros(len(stars)), weights_setting, 0.0)
        weights[rated] = per_stars[position]
    return weights


def _oldest_first(columns: dict[str, np.ndarray], weights: np.ndarray, keep: np.ndarray | None) -> Interactions:
    """The kept events in the ORM's ``order_by("timestamp", "pk")``; each column is gathered
    once and the read ones let go as it goes, so memory stays near the result's size."""
    index = np.flatnonzero(keep) if keep is not None else np.arange(len(weights))
    index = index[np.lexsort((columns.pop("id")[index], columns["time"][index]))]
    return Interactions(
        user_ids=columns.pop("user")[index],
        item_ids=columns.pop("item")[index],
        weights=weights[index].astype(np.float64),
        times=columns.pop("time")[index],
    )
