"""Serving reads from a read replica.

The requests that read most (lists, similar items, search) read rows that change slowly: items,
vectors, histories, the knowledge graph. ``LLMREC["SERVING_DATABASE"]`` names a ``DATABASES``
alias (a streaming replica of the primary) from which they read; everything else (writes, the
admin, imports, fitting, training, and any read inside a transaction, which must see its own
writes) stays on ``default``.

Usage (the recommend service's entry points do this)::

    from llmrec_django.database.routing import serving_reads

    with serving_reads():
        ...  # reads.fetch and the ORM reads of the app's models go to the replica

and in the site's settings::

    DATABASES = {"default": {...primary...}, "replica": {...standby..., "TEST": {"MIRROR": "default"}}}
    DATABASE_ROUTERS = ["llmrec_django.database.routing.ServingReadRouter"]
    LLMREC = {"SERVING_DATABASE": "replica"}

A replica lags the primary by its replication delay (usually milliseconds): an event a user sent
a moment ago may not be in the list they ask for next, as with the list cache; nothing is lost,
and the next list has it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

from llmrec_django.conf import llmrec_settings

# The models the serving functions read and that tolerate a replica's delay. Users and tenants
# are looked up on the primary (a user created by the request before, through the events API,
# must be found), and so is the app's bookkeeping (outbox, deliveries, served lists).
SERVING_MODELS = frozenset(
    {
        "item",
        "itemvector",
        "uservector",
        "interaction",
        "entity",
        "relation",
        "embeddingversion",
        "rankingmodel",
        "collaborativemodel",
        "businessrule",
        "trainingrun",
    }
)
P = ParamSpec("P")
R = TypeVar("R")
APP_LABEL = "llmrec_django"
_serving: ContextVar[bool] = ContextVar("llmrec_serving_reads", default=False)


def serving_database() -> str | None:
    """The configured replica's alias, None when serving reads from ``default``."""
    alias = llmrec_settings.SERVING_DATABASE
    return alias if alias and alias != DEFAULT_DB_ALIAS else None


@contextmanager
def serving_reads() -> Iterator[None]:
    """Within the block, the app's reads go to the serving database (when one is configured)."""
    token = _serving.set(True)
    try:
        yield
    finally:
        _serving.reset(token)


def reads_from_serving_database(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a serving function: its reads go to the serving database (``serving_reads``)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with serving_reads():
            return function(*args, **kwargs)

    return wrapper


def read_alias() -> str:
    """Where a read of the app's data goes now: the replica inside ``serving_reads`` unless the
    primary's connection is in a transaction (its reads must see its own writes)."""
    replica = serving_database()
    if replica is None or not _serving.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return replica


class ServingReadRouter:
    """Django's router for ``serving_reads``: the app's ``SERVING_MODELS`` are read from the
    replica inside it; every model is written to ``default``; the replica is never migrated (it
    follows the primary)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if model._meta.app_label != APP_LABEL or model._meta.model_name not in SERVING_MODELS:
            return None
        alias = read_alias()
        return alias if alias != DEFAULT_DB_ALIAS else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        replica = serving_database()
        databases = {obj1._state.db, obj2._state.db}
        if replica is not None and databases <= {DEFAULT_DB_ALIAS, replica}:
            return True  # the same rows: one read from the replica, one from the primary
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if db == serving_database():
            return False
        return None
