"""The process's caches: one registry of every per-process cache, and ``TenantCache``, the
per-tenant cache of aggregates that requests read often and that may be a little stale
(popularity, item exposure, active experiments, the serving state).

Every cache of the app is registered here: a ``TenantCache`` when it is made, any other cache
(a dict of loaded models, a version's matrix) by passing its clear function to ``register``.
``clear_all()`` empties them all at once (tests; a change that must show everywhere at once)::

    _scorers: dict[str, Scorer] = {}
    caches.register(_scorers.clear)
    ...
    caches.clear_all()

Usage::

    exposure = TenantCache("exposure", compute_exposure, lambda: 300)
    exposure.get(tenant_id)      # computed on first use, then served from memory
    exposure.clear()             # tests, or after a change that must show at once

Once a copy is ``ttl()`` seconds old, the request that notices still gets it and a background
thread recomputes it (stale-while-revalidate), so no request waits for the aggregate except a
process's first, or one inside a transaction (which must see its own writes and cannot hand
them to another connection). One thread per process does every refresh (``wait_for_refreshes``
waits until it has nothing left to do).

A copy counts as stale a little early, by a random part of up to ``JITTER`` of ``ttl()``: web
workers started together would otherwise recompute every aggregate in the same second, each
minute, and the requests arriving then would wait for the cores (the load test's slowest lists
came in those seconds).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connection, connections

logger = logging.getLogger(__name__)
T = TypeVar("T")

JITTER = 0.2
_random = random.SystemRandom()  # not the module's generator: forked workers would share its state


class _Refresher:
    """The thread that recomputes stale copies, one job at a time from a queue.

    A thread started for each refresh made the request that noticed a stale copy wait for it to
    start: several ms on a busy machine, every ``SERVING_STATE_SECONDS``, a p99 of its own. This
    one starts on first use (and again in a forked child, where the parent's threads do not
    exist). It closes its database connection after each job, as the per-refresh threads did: an
    idle connection held by a thread nobody joins would keep, for one, a test database from
    being dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's queue may hold jobs nobody runs
                self._jobs, self._thread, self._pid = queue.Queue(), None, os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._jobs,), name="llmrec-refresh", daemon=True
                )
                self._thread.start()
            self._jobs.put(job)

    def wait(self) -> None:
        self._jobs.join()

    @staticmethod
    def _run(jobs: queue.Queue[Callable[[], None]]) -> None:
        while True:
            job = jobs.get()
            try:
                job()
            finally:
                connections.close_all()  # this thread's own connections
                jobs.task_done()


_refresher = _Refresher()

# The clear function of every per-process cache of the app.
_registry: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    """Add a cache's clear function to the registry that ``clear_all`` empties; returns it."""
    _registry.append(clear)
    return clear


def clear_all() -> None:
    """Empty every registered cache of this process (after any refresh still running)."""
    wait_for_refreshes()
    for clear in list(_registry):
        clear()


def in_background(job: Callable[[], None]) -> None:
    """Run ``job`` on the process's refresh thread (after the jobs already asked for)."""
    _refresher.submit(job)


def wait_for_refreshes() -> None:
    """Return once every background refresh asked for so far has run (tests)."""
    _refresher.wait()


class TenantCache(Generic[T]):
    def __init__(
        self, name: str, compute: Callable[[int], T], ttl: Callable[[], float], *, afresh_in_transactions: bool = False
    ):
        self.name = name
        self.compute = compute
        self.ttl = ttl
        # True: inside a transaction, compute and do not keep (the caller must see its own writes,
        # and a value read there may be rolled back).
        self.afresh_in_transactions = afresh_in_transactions
        self._lock = threading.Lock()
        self._values: dict[int, tuple[float, T]] = {}
        self._refreshing: set[int] = set()
        # Bumped by clear(): a value computed before a clear (a refresh racing a change) is not kept.
        self._generation = 0
        register(self.clear)

    def get(self, tenant_id: int) -> T:
        if self.afresh_in_transactions and connection.in_atomic_block:
            return self.compute(tenant_id)
        cached = self._values.get(tenant_id)
        if cached is None:
            return self.refresh(tenant_id)
        if time.monotonic() - cached[0] >= self.ttl():
            if connection.in_atomic_block:
                return self.refresh(tenant_id)
            self._refresh_in_background(tenant_id)
        return cached[1]

    def refresh(self, tenant_id: int) -> T:
        """Compute now, store (unless ``clear()`` ran meanwhile) and return."""
        generation = self._generation
        value = self.compute(tenant_id)
        # Stored as if computed up to JITTER x ttl earlier: the copy goes stale that much sooner.
        ttl = float(self.ttl())
        early = ttl * JITTER * _random.random() if math.isfinite(ttl) and ttl > 0 else 0.0
        with self._lock:
            if generation == self._generation:
                self._values[tenant_id] = (time.monotonic() - early, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._values.clear()

    def _refresh_in_background(self, tenant_id: int) -> None:
        with self._lock:
            if tenant_id in self._refreshing:
                return
            self._refreshing.add(tenant_id)

        def refresh() -> None:
            try:
                self.refresh(tenant_id)
            except Exception:  # the stale copy keeps serving; the next request tries again
                logger.exception("Refreshing the %s of tenant %s failed", self.name, tenant_id)
            finally:
                with self._lock:
                    self._refreshing.discard(tenant_id)

        _refresher.submit(refresh)
