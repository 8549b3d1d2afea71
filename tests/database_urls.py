"""Databases for the processes a test starts (``manage.py`` of the example site or of a fresh
site) on the server the test suite uses, the embedded one under LLMREC_HOME or the one of
``DATABASE_URL``: ``database_url(name)`` gives their ``DATABASE_URL``, ``scratch_database()``
a new empty one for the duration of a block."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode


def database_url(name: str | None = None) -> str:
    """A URL (as ``dj_database_url`` reads it) for database ``name`` (default: the test database)
    on the test suite's server, with its user, password, host or socket directory, port and
    options such as ``sslmode``."""
    from django.db import connection

    connection.ensure_connection()
    info = connection.connection.info
    parameters = {key: value for key, value in info.get_parameters().items() if key not in ("dbname", "user")}
    # A Unix socket's directory goes in the query (a path is no URL host); so does everything else.
    parameters.update(host=info.host, port=str(info.port))
    credentials = quote(info.user, safe="") + (f":{quote(info.password, safe='')}" if info.password else "")
    return f"postgresql://{credentials}@/{quote(name or info.dbname, safe='')}?{urlencode(parameters)}"


@contextmanager
def scratch_database(prefix: str = "llmrec_scratch") -> Iterator[str]:
    """A new, empty database on the test suite's server for the duration of the block (its URL
    is ``database_url(name)``); dropped afterwards, whatever connections are left to it."""
    import psycopg
    from django.db import connection
    from psycopg import sql

    connection.ensure_connection()
    info = connection.connection.info
    conninfo = psycopg.conninfo.make_conninfo(info.dsn, password=info.password or None)
    name = f"{prefix}_{secrets.token_hex(4)}"
    # CREATE and DROP DATABASE cannot run in a transaction: a connection of their own.
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
