"""A query's rows as numpy columns, read with binary ``COPY ... TO STDOUT``.

For reads of millions of rows (a tenant's interactions, when the collaborative model is fitted):
no Python object per row or value, so memory follows the arrays, not the rows. The ORM's
``values_list`` builds a tuple, two ints, a string and a ``datetime`` per event: about 100 bytes
of Python objects and a few microseconds each, against 40 bytes of arrays here.

Usage::

    from llmrec_django.database.columns import read_columns

    columns = read_columns(
        "SELECT id, user_id, timestamp FROM llmrec_django_interaction WHERE tenant_id = %s",
        [tenant_id],
        [("id", "int8"), ("user_id", "int8"), ("time", "timestamptz")],
    )
    columns["time"]  # float64 Unix seconds, as datetime.timestamp() gives them

The statement's columns must be, in order, of the named types (cast them in SQL: ``x::int8``)
and never NULL (``COALESCE`` them): every row then has the same width on the wire, and one
numpy view with a structured dtype reads a batch of rows at once. Types: int2, int4, int8,
float4, float8, bool and timestamptz (Unix seconds, float64). A row that breaks the layout (a
NULL, another type's width) raises ``ValueError`` naming the column. Parameters are merged into
the statement by psycopg on the client (``COPY`` takes none on the server).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Each column's type on the wire (binary COPY sends big-endian values) and in the result.
WIRE_TYPES = {
    "int2": (">i2", np.int16),
    "int4": (">i4", np.int32),
    "int8": (">i8", np.int64),
    "float4": (">f4", np.float32),
    "float8": (">f8", np.float64),
    "bool": ("?", np.bool_),
    "timestamptz": (">i8", np.float64),  # microseconds since 2000-01-01 UTC -> Unix seconds
}
SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TRAILER = b"\xff\xff"  # a field count of -1 ends the data
UNIX_SECONDS_AT_2000 = 946_684_800
# Bytes of rows gathered before they become arrays: the wire format's copy of the data never
# grows past this (the arrays are about two thirds of its size), and numpy works on big slices.
BATCH_BYTES = 32 * 2**20


def read_columns(
    sql: str, params: Sequence[Any], columns: Sequence[tuple[str, str]], *, using: str = "default"
) -> dict[str, np.ndarray]:
    """The rows of ``sql`` (a SELECT; ``%s`` placeholders) as one array per ``(name, type)`` of
    ``columns``, in the statement's row order (see the module docstring)."""
    from django.db import connections

    reader = _RowReader(columns)
    with connections[using].cursor() as cursor:
        # COPY is psycopg's own API, beneath Django's cursor wrapper. PostgreSQL sends one message
        # per row, so this loop is the per-row cost: it only appends the bytes.
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy:
            read, extend, buffer = copy.read, reader.buffer.extend, reader.buffer
            while chunk := read():
                extend(chunk)
                if len(buffer) >= BATCH_BYTES:
                    reader.convert()
    return reader.result()


class _RowReader:
    """Turns the byte stream of a binary COPY of fixed-width rows into column arrays: bytes go
    into ``buffer``, and ``convert`` turns its whole rows into arrays."""

    def __init__(self, columns: Sequence[tuple[str, str]]):
        unknown = [kind for _, kind in columns if kind not in WIRE_TYPES]
        if unknown or not columns:
            raise ValueError(f"Column types must be some of {sorted(WIRE_TYPES)}, not {unknown or 'none'}.")
        self.columns = list(columns)
        fields = [("field_count", ">i2")]
        for position, (_, kind) in enumerate(self.columns):
            fields += [(f"length{position}", ">i4"), (f"value{position}", WIRE_TYPES[kind][0])]
        self.row = np.dtype(fields)  # packed: the wire has no padding
        self.buffer = bytearray()
        self.header_read = False
        self.rows_read = 0
        self.parts: list[list[np.ndarray]] = [[] for _ in self.columns]

    def convert(self) -> None:
        """Turn the whole rows in ``buffer`` into arrays; the bytes of a partial row stay."""
        start = 0
        if not self.header_read:
            start = self._header_length()
            self.header_read = True
        count = (len(self.buffer) - start) // self.row.itemsize
        if count:
            self._append(np.frombuffer(self.buffer, dtype=self.row, count=count, offset=start))
            self.rows_read += count
        del self.buffer[: start + count * self.row.itemsize]  # no view of it is left

    def result(self) -> dict[str, np.ndarray]:
        self.convert()
        if bytes(self.buffer) != TRAILER:
            # Rows of the wrong layout leave less (a NULL) or more than whole rows behind.
            problem = self._row_problem(bytes(self.buffer)) if len(self.buffer) > len(TRAILER) else None
            raise ValueError(
                problem
                or f"The COPY data does not end in its trailer after {self.rows_read} whole rows: "
                f"{bytes(self.buffer[:16])!r}."
            )
        out = {}
        for (name, kind), parts in zip(self.columns, self.parts, strict=True):
            out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=WIRE_TYPES[kind][1])
            parts.clear()  # the pieces go as soon as each column is whole
        return out

    def _header_length(self) -> int:
        header = bytes(self.buffer[: len(SIGNATURE) + 8])
        if not header.startswith(SIGNATURE) or len(header) < len(SIGNATURE) + 8:
            raise ValueError("The data is not PostgreSQL's binary COPY format.")
        flags = int.from_bytes(header[11:15], "big")
        if flags & (1 << 16):
            raise ValueError("The COPY data carries OIDs, which read_columns does not expect.")
        return len(SIGNATURE) + 8 + int.from_bytes(header[15:19], "big")  # + the header extension

    def _row_problem(self, row: bytes) -> str | None:
        """What is wrong with the row starting ``row`` (read field by field), if anything."""
        found = int.from_bytes(row[:2], "big", signed=True)
        if found != len(self.columns):
            return f"A row has {found} columns where {len(self.columns)} were named."
        position = 2
        for name, kind in self.columns:
            width = np.dtype(WIRE_TYPES[kind][0]).itemsize
            length = int.from_bytes(row[position : position + 4], "big", signed=True)
            if length != width:
                what = "NULL" if length == -1 else f"{length} bytes wide"
                return f"Column {name!r} ({kind}, {width} bytes) is {what} in a row; cast or COALESCE it."
            position += 4 + width
        return None

    def _append(self, rows: np.ndarray) -> None:
        fits = rows["field_count"] == len(self.columns)
        for position, (_, kind) in enumerate(self.columns):
            fits &= rows[f"length{position}"] == np.dtype(WIRE_TYPES[kind][0]).itemsize
        if not fits.all():
            # Rows up to the first misfit are whole and aligned, so that one starts where expected.
            first = int(np.argmin(fits))
            raise ValueError(self._row_problem(rows[first : first + 1].tobytes()) or "A row does not fit the columns.")
        for position, (_, kind) in enumerate(self.columns):
            values = rows[f"value{position}"]
            if kind == "timestamptz":
                # float64 holds every microsecond count exactly (< 2**53), and one correctly
                # rounded division gives the same float as datetime.timestamp().
                seconds = values.astype(np.int64) + UNIX_SECONDS_AT_2000 * 1_000_000
                self.parts[position].append(seconds / 1e6)
            else:
                self.parts[position].append(values.astype(WIRE_TYPES[kind][1]))
