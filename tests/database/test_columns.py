"""A query's rows as numpy columns through binary COPY: every type as Python reads it, the batch
boundaries, and a clear error for rows that do not fit the named layout."""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from llmrec_django.database import columns
from llmrec_django.database.columns import read_columns

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def unnest(values: dict[str, tuple[str, list]]) -> tuple[str, list, list]:
    """A SELECT over parallel arrays (one per column), its parameters and its column types."""
    casts = ", ".join(f"%s::{kind}[]" for kind, _ in values.values())
    names = ", ".join(values)
    sql = f"SELECT {names} FROM unnest({casts}) WITH ORDINALITY AS t({names}, n) ORDER BY n"
    return sql, [list(data) for _, data in values.values()], [(name, kind) for name, (kind, _) in values.items()]


def test_every_type_reads_as_python_reads_it():
    stamps = [
        dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before 2000 and before 1970
        dt.datetime(2000, 1, 1, tzinfo=UTC),
    ]
    sql, params, layout = unnest(
        {
            "small": ("int2", [-32768, 0, 32767]),
            "middle": ("int4", [-(2**31), 7, 2**31 - 1]),
            "big": ("int8", [-(2**63), 0, 2**63 - 1]),
            "single": ("float4", [1.5, -0.0, float("inf")]),
            "double": ("float8", [math.pi, float("nan"), -1e300]),
            "flag": ("bool", [True, False, True]),
            "time": ("timestamptz", stamps),
        }
    )
    got = read_columns(sql, params, layout)
    assert got["small"].dtype == np.int16 and got["small"].tolist() == [-32768, 0, 32767]
    assert got["middle"].dtype == np.int32 and got["middle"].tolist() == [-(2**31), 7, 2**31 - 1]
    assert got["big"].dtype == np.int64 and got["big"].tolist() == [-(2**63), 0, 2**63 - 1]
    assert got["single"].dtype == np.float32 and got["single"].tolist() == [1.5, 0.0, float("inf")]
    assert got["double"][0] == math.pi and math.isnan(got["double"][1]) and got["double"][2] == -1e300
    assert got["flag"].tolist() == [True, False, True]
    assert got["time"].dtype == np.float64
    assert got["time"].tolist() == [stamp.timestamp() for stamp in stamps], "bit for bit what Python computes"


def test_no_rows_gives_empty_arrays_of_each_type():
    got = read_columns("SELECT 1::int8, 2::float4 WHERE false", [], [("a", "int8"), ("b", "float4")])
    assert got["a"].dtype == np.int64 and got["b"].dtype == np.float32
    assert len(got["a"]) == len(got["b"]) == 0


def test_rows_split_across_batches_read_the_same(monkeypatch):
    sql = "SELECT g::int8, (g * 0.5)::float8, (g % 2 = 0) FROM generate_series(1, 5000) g ORDER BY g"
    layout = [("n", "int8"), ("half", "float8"), ("even", "bool")]
    whole = read_columns(sql, [], layout)
    monkeypatch.setattr(columns, "BATCH_BYTES", 100)  # a few rows per batch, cut mid-row
    batched = read_columns(sql, [], layout)
    for name, _ in layout:
        assert np.array_equal(whole[name], batched[name])
    assert whole["n"].tolist() == list(range(1, 5001))


def test_parameters_are_values_not_sql():
    hostile = ["a", "b'); DROP TABLE llmrec_django_item; --", 'c"']
    got = read_columns("SELECT array_position(%s::text[], %s)::int4", [hostile, hostile[1]], [("position", "int4")])
    assert got["position"].tolist() == [2]


def test_a_null_is_refused_with_the_column_named():
    with pytest.raises(ValueError, match=r"Column 'value' \(float8, 8 bytes\) is NULL"):
        read_columns("SELECT 1::int8, NULL::float8", [], [("id", "int8"), ("value", "float8")])
    # A NULL after thousands of good rows, in a later batch: found there, not read as garbage.
    sql = "SELECT g::int8, CASE WHEN g = 4000 THEN NULL ELSE g END::float8 FROM generate_series(1, 5000) g ORDER BY 1"
    with pytest.raises(ValueError, match=r"Column 'value' \(float8, 8 bytes\) is NULL"):
        read_columns(sql, [], [("id", "int8"), ("value", "float8")])
    # The COPY stopped half-way is wound up: the connection goes on serving.
    assert read_columns("SELECT 7::int8", [], [("n", "int8")])["n"].tolist() == [7]


def test_a_column_of_another_width_is_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"Column 'id' \(int8, 8 bytes\) is 4 bytes wide"):
        read_columns("SELECT 1::int4", [], [("id", "int8")])
    with pytest.raises(ValueError, match="A row has 2 columns where 1 were named"):
        read_columns("SELECT 1::int8, 2::int8", [], [("id", "int8")])
    monkeypatch.setattr(columns, "BATCH_BYTES", 64)
    with pytest.raises(ValueError, match=r"Column 'id' \(int4, 4 bytes\) is 8 bytes wide"):
        read_columns("SELECT g::int8 FROM generate_series(1, 100) g", [], [("id", "int4")])


def test_unknown_types_are_refused_before_reading():
    with pytest.raises(ValueError, match="Column types must be some of"):
        read_columns("SELECT 'x'", [], [("name", "text")])
    with pytest.raises(ValueError, match="none"):
        read_columns("SELECT 1", [], [])


moments = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC))


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.floats(allow_nan=False, width=64),
            moments,
        ),
        max_size=40,
    )
)
def test_any_values_come_back_as_they_went(rows):
    sql, params, layout = unnest(
        {
            "id": ("int8", [r[0] for r in rows]),
            "value": ("float8", [r[1] for r in rows]),
            "time": ("timestamptz", [r[2] for r in rows]),
        }
    )
    got = read_columns(sql, params, layout)
    assert got["id"].tolist() == [r[0] for r in rows]
    assert got["value"].tolist() == [r[1] for r in rows]
    assert got["time"].tolist() == [r[2].timestamp() for r in rows]
