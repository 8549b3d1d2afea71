"""What one import did: counts, the bad rows (file, line, message), timing, changed items.

Every row read ends in exactly one bucket, so ``rows_read == created + updated + unchanged +
duplicates + bad``:

- ``created``: new rows written;
- ``updated``: existing rows whose values changed (items, users, relation weights);
- ``unchanged``: rows identical to what is stored (a re-import);
- ``duplicates``: rows skipped because the same key came earlier in the file or an earlier run
  (repeated event ids, repeated item external ids: the last occurrence of an item wins);
- ``bad``: rows refused, each with its line in ``bad_rows`` (the first ``MAX_BAD_ROWS_KEPT``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Bad rows kept with their messages per import; beyond this only the count grows, so a file
# that is wrong on every line cannot fill the memory with messages.
MAX_BAD_ROWS_KEPT = 1000


@dataclass(frozen=True, order=True)
class BadRow:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass
class ImportReport:
    """Outcome of importing one file (or one stream of rows) of one kind."""

    kind: str  # "items", "users", "relations" or "events"
    source: str  # the file name, or a label for rows that came from elsewhere
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    # Items only: ids of new items, and of existing items whose text (content hash) changed;
    # both need (re-)embedding.
    created_ids: list[int] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)
    # Side effects: user profiles created for unknown users, entities created for relations.
    users_created: int = 0
    entities_created: int = 0
    # Remarks about the file as a whole, e.g. columns that were ignored.
    notes: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0

    @property
    def imported(self) -> int:
        """Rows written: created or updated."""
        return self.created + self.updated

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed if self.elapsed > 0 else 0.0

    def add_bad(self, line: int, message: str) -> None:
        self.bad += 1
        if len(self.bad_rows) < MAX_BAD_ROWS_KEPT:
            self.bad_rows.append(BadRow(self.source, line, message))

    def finish(self) -> ImportReport:
        self.elapsed = time.monotonic() - self.started_at
        self.bad_rows.sort()
        return self

    def summary(self) -> str:
        """One line for people, e.g. ``events.csv (events): 1,000 read, 990 imported, ...``."""
        parts = [f"{self.rows_read:,} read", f"{self.created:,} created"]
        if self.kind != "events":
            parts.append(f"{self.updated:,} updated")
            parts.append(f"{self.unchanged:,} unchanged")
        parts.append(f"{self.duplicates:,} duplicates skipped")
        parts.append(f"{self.bad:,} bad")
        if self.kind == "items":
            parts.append(f"{len(self.changed_ids):,} with changed text")
        if self.users_created:
            parts.append(f"{self.users_created:,} new users")
        if self.entities_created:
            parts.append(f"{self.entities_created:,} new entities")
        parts.append(f"{self.elapsed:.1f} s")
        parts.append(f"{self.rows_per_second:,.0f} rows/s")
        return f"{self.source} ({self.kind}): " + ", ".join(parts)
