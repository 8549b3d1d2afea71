"""The embedded server's memory settings (``llmrec_django/database.py``)."""

import os

import pytest
from django.db import connection

from llmrec_django.database import embedded as database

GB = 2**30


def test_shared_buffers_are_a_quarter_of_memory_within_bounds(monkeypatch):
    monkeypatch.delenv("LLMREC_DB_SHARED_BUFFERS", raising=False)
    assert database.embedded_server_settings(16 * GB) == {"shared_buffers": "4096MB", "effective_cache_size": "12288MB"}
    assert database.embedded_server_settings(GB // 4)["shared_buffers"] == "128MB"  # PostgreSQL's default at least
    assert database.embedded_server_settings(256 * GB)["shared_buffers"] == "8192MB"  # and at most 8 GB


def test_the_environment_sets_shared_buffers(monkeypatch):
    monkeypatch.setenv("LLMREC_DB_SHARED_BUFFERS", "2GB")
    assert database.embedded_server_settings(16 * GB)["shared_buffers"] == "2GB"


@pytest.mark.django_db
def test_a_size_postgresql_cannot_read_is_a_clear_error():
    with pytest.raises(ValueError, match="shared_buffers = 'lots' is not a size"):
        database._apply_settings(connection.connection, {"shared_buffers": "lots"})


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="a server of the site's, not the embedded one")
@pytest.mark.django_db
def test_the_embedded_server_runs_with_them_or_will_at_its_next_start():
    with connection.cursor() as cursor:
        for name, value in database.embedded_server_settings().items():
            cursor.execute(
                "SELECT pg_size_bytes(current_setting(name)) = pg_size_bytes(%s) OR pending_restart "
                "FROM pg_settings WHERE name = %s",
                [value, name],
            )
            assert cursor.fetchone()[0], name
