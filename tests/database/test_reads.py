"""Several reads in one round trip (``llmrec_django/reads.py``)."""

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from llmrec_django.database import reads
from llmrec_django.database.reads import Read, fetch


def number(value):
    return Read("SELECT %s::int", [value], lambda rows: rows[0][0])


def work_mem(settings=None):
    return Read("SELECT current_setting('work_mem')", [], lambda rows: rows[0][0], settings=settings or {})


def current_work_mem():
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        return cursor.fetchone()[0]


@pytest.fixture(params=["one string", "one by one"])
def binding(request, monkeypatch):
    """Client-side binding (Django's default: one string) and server-side (one statement at a time)."""
    if request.param == "one by one":
        monkeypatch.setattr(reads, "_binds_on_client", lambda cursor: False)
    return request.param


@pytest.mark.django_db(transaction=True)  # autocommit, as a request without ATOMIC_REQUESTS runs
def test_each_read_gets_its_rows_in_one_round_trip_and_settings_end_with_it(binding):
    before = current_work_mem()
    with CaptureQueriesContext(connection) as queries:
        values = fetch(number(1), work_mem({"work_mem": "7MB"}), work_mem(), number(2))
    assert values == (1, "7MB", "7MB", 2)  # settings hold for the reads after theirs, too
    assert current_work_mem() == before  # ... and no longer
    if binding == "one string":
        assert len(queries) == 1


@pytest.mark.django_db
def test_inside_a_transaction_a_failing_read_leaves_it_usable(binding):
    with pytest.raises(DatabaseError):
        fetch(number(1), Read("SELECT 1 / %s", [0], list))
    assert fetch(number(3), number(4)) == (3, 4)


@pytest.mark.django_db
def test_inside_a_transaction_one_failing_read_leaves_it_usable(binding):
    with pytest.raises(DatabaseError):
        fetch(Read("SELECT 1 / %s", [0], list))
    assert fetch(number(3)) == (3,)


@pytest.mark.django_db
def test_inside_a_transaction_settings_end_with_the_fetch_too(binding):
    """As a site with ATOMIC_REQUESTS runs: a search's statement_timeout must not stay on for the
    rest of the request."""
    before = current_work_mem()
    assert fetch(work_mem({"work_mem": "7MB"}), work_mem(), number(1)) == ("7MB", "7MB", 1)
    assert current_work_mem() == before
    assert fetch(number(2)) == (2,)


@pytest.mark.django_db
def test_a_read_without_sql_asks_nothing():
    nothing = Read(None, [], lambda rows: ("parsed", rows))
    with CaptureQueriesContext(connection) as queries:
        assert fetch(nothing) == (("parsed", []),)
        assert fetch(nothing, number(5)) == (("parsed", []), 5)
    assert len(queries) == 1
