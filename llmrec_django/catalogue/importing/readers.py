"""Reading import files: CSV or JSON Lines, optionally gzip-compressed, as ``(line_no, row)`` pairs.

The format comes from the file name: ``.csv``, ``.jsonl`` or ``.ndjson``, each optionally followed
by ``.gz``. A CSV file starts with a header row naming its columns; a JSON Lines file holds one
JSON object per line. Every reader yields ``(line_no, row)`` where ``line_no`` is the physical
line (1-based, the header is line 1 of a CSV file) on which the record starts, and ``row`` is a
``dict`` of column -> value, or an ``InvalidRecord`` when the line could not be read as a record
at all (broken JSON, wrong number of CSV fields). Readers never drop a record silently: the
loaders report an ``InvalidRecord`` as a bad row with its line.

File-level problems (unknown extension, no header, a required column missing from the header)
raise ``ImportFileError`` before any row is produced, so a caller can check every file before it
writes anything (``check_columns``).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

CSV = "csv"
JSON_LINES = "jsonl"

# Extension (after stripping ".gz") -> format.
FORMAT_BY_EXTENSION = {".csv": CSV, ".jsonl": JSON_LINES, ".ndjson": JSON_LINES}

DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without a byte-order mark

# The csv module refuses fields over 128 KiB by default; item descriptions can be long, and the
# real limits are the model's max_length checks, so allow fields up to 64 MiB.
CSV_FIELD_SIZE_LIMIT = 64 * 1024 * 1024


class ImportFileError(ValueError):
    """A whole file cannot be imported (format, header); nothing of it was written."""


@dataclass(frozen=True)
class InvalidRecord:
    """A line that is not a record (broken JSON, wrong field count); reported as a bad row."""

    message: str


Row = tuple[int, "dict[str, Any] | InvalidRecord"]


def detect_format(path: str | Path) -> str:
    """``"csv"`` or ``"jsonl"`` from the file name; ``ImportFileError`` for anything else."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    for extension, file_format in FORMAT_BY_EXTENSION.items():
        if name.endswith(extension):
            return file_format
    raise ImportFileError(
        f"{path}: cannot tell the format from the name; use .csv, .jsonl or .ndjson (optionally with .gz)."
    )


def open_text(path: str | Path, encoding: str = DEFAULT_ENCODING) -> TextIO:
    """Open a text file for reading, decompressing ``.gz`` files.

    Undecodable bytes are kept as surrogate escapes instead of stopping the whole file; the row
    validation refuses such values as "not valid text", so they become bad rows with a line.
    """
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, errors="surrogateescape", newline="")
    return open(path, encoding=encoding, errors="surrogateescape", newline="")


def read_header(path: str | Path, *, encoding: str = DEFAULT_ENCODING, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file (stripped); ``ImportFileError`` if it has no header."""
    with open_text(path, encoding) as stream:
        return _parse_header(csv.reader(stream, delimiter=delimiter), path)


def check_columns(path: str | Path, required: Iterable[str], *, encoding: str = DEFAULT_ENCODING) -> list[str]:
    """Check that a CSV file's header has every required column; returns the header.

    JSON Lines files have no header: their records are checked one by one (a record without a
    required key is a bad row), so for them this only checks the name and returns ``[]``.
    """
    if detect_format(path) == JSON_LINES:
        return []
    header = read_header(path, encoding=encoding)
    missing = [column for column in required if column not in header]
    if missing:
        raise ImportFileError(
            f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the header has: {', '.join(header) or 'nothing'})."
        )
    return header


def read_rows(path: str | Path, required: Iterable[str] = (), *, encoding: str = DEFAULT_ENCODING) -> Iterator[Row]:
    """``(line_no, row)`` pairs of a CSV or JSON Lines file, chosen by its name.

    The header is checked (``required`` columns) when the iterator is created, not lazily, so an
    ``ImportFileError`` comes before the first row.
    """
    if detect_format(path) == CSV:
        check_columns(path, required, encoding=encoding)
        return read_csv(path, encoding=encoding)
    return read_jsonl(path, encoding=encoding)


def read_csv(
    path: str | Path,
    *,
    encoding: str = DEFAULT_ENCODING,
    delimiter: str = ",",
    fieldnames: list[str] | None = None,
) -> Iterator[Row]:
    """Records of a CSV file as dicts keyed by the header (or ``fieldnames`` when it has none).

    Quoted fields may span lines and contain the delimiter; CRLF and LF line ends both work.
    Blank lines are skipped. A record with more or fewer fields than the header is an
    ``InvalidRecord``.
    """
    csv.field_size_limit(CSV_FIELD_SIZE_LIMIT)
    with open_text(path, encoding) as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        header = fieldnames if fieldnames is not None else _parse_header(reader, path)
        width = len(header)
        previous_line = reader.line_num
        try:
            for values in reader:
                line_no = previous_line + 1
                previous_line = reader.line_num
                if not values:
                    continue
                if len(values) != width:
                    yield line_no, InvalidRecord(f"expected {width} fields, found {len(values)}")
                    continue
                yield line_no, dict(zip(header, values, strict=True))
        except csv.Error as error:
            # The csv module stops at a malformed record (e.g. an unterminated quote at the end
            # of the file); the rest of the file cannot be read past it.
            yield reader.line_num, InvalidRecord(f"unreadable CSV ({error}); the rest of the file was not read")


def read_delimited(
    path: str | Path,
    separator: str,
    fieldnames: list[str],
    *,
    encoding: str = "utf-8",
) -> Iterator[Row]:
    """Records of a headerless file whose fields are split by ``separator`` (no quoting), such as
    MovieLens ``u.data`` (tab), ``u.item`` (``|``) and the ml-1m ``.dat`` files (``::``).

    A line with a different number of fields is an ``InvalidRecord``.
    """
    width = len(fieldnames)
    with open_text(path, encoding) as stream:
        for line_no, line in enumerate(stream, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            values = line.split(separator)
            if len(values) != width:
                yield line_no, InvalidRecord(f"expected {width} fields separated by {separator!r}, found {len(values)}")
                continue
            yield line_no, dict(zip(fieldnames, values, strict=True))


def read_jsonl(path: str | Path, *, encoding: str = DEFAULT_ENCODING) -> Iterator[Row]:
    """Records of a JSON Lines file: one JSON object per line; blank lines are skipped.

    ``NaN`` and ``Infinity`` are not JSON (and PostgreSQL's jsonb refuses them), so a line with
    them is an ``InvalidRecord`` like any other broken JSON.
    """
    with open_text(path, encoding) as stream:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_constant=_refuse_constant)
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                yield line_no, InvalidRecord(f"invalid JSON: {error}")
                continue
            if not isinstance(record, dict):
                yield line_no, InvalidRecord(f"expected a JSON object, found {type(record).__name__}")
                continue
            yield line_no, record


def loads_json(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity (not JSON; jsonb cannot hold them)."""
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_header(reader: Any, path: str | Path) -> list[str]:
    for values in reader:
        if not values:
            continue  # blank lines before the header
        header = [value.strip() for value in values]
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise ImportFileError(
                f"{path}: repeated column{'s' if len(duplicates) > 1 else ''} {', '.join(duplicates)}."
            )
        return header
    raise ImportFileError(f"{path}: the file is empty (a CSV file needs a header row).")
