"""SQLite backups and restores, with SQLite's online backup API.

A backup is a consistent copy taken while the bot runs: under WAL a reader never blocks the
writers, and the copy is one read transaction's snapshot. It is written beside the target
and renamed into place, as a single file (rollback journal, no -wal beside it), and checked
(`PRAGMA integrity_check`) before it counts.

A restore goes only into an empty database (nothing beyond what a new one starts with: the
schema, the topics, the shipped FAQ, the bot's own bookkeeping), after the file is checked:
a SQLite database, intact, at a migration this code knows. Each table's rows are counted
against the backup's after the copy."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

HEADER = b"SQLite format 3\x00"
# What a new database holds before anyone used it: migrations' and start-up's own rows.
SEEDED = frozenset(
    {"alembic_version", "meta", "topics", "faq_entries", "faq_synonyms", "faq_vectors",
     "schedule_runs"}
)  # fmt: skip
BUSY_MS = 30_000


class BackupError(Exception):
    """The file or the database cannot be used as asked; `str()` is one line."""


class NotEmpty(BackupError):
    """The target of a restore holds data."""


@dataclass(frozen=True, slots=True)
class Summary:
    """A database file: rows per table, bytes, the applied migration (None: none)."""

    tables: dict[str, int]
    size: int
    revision: str | None

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def line(self) -> str:
        mb = self.size / 1_048_576
        return (
            f"{len(self.tables)} tables, {self.rows} rows, {mb:.1f} MB, "
            f"revision {self.revision or '(none)'}"
        )


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=30)
    else:
        conn = sqlite3.connect(path, timeout=30)
    conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    return conn


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _revision(conn: sqlite3.Connection, tables: dict[str, int]) -> str | None:
    if "alembic_version" not in tables:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def inspect(path: Path) -> Summary:
    """Check a database file (a SQLite database, `integrity_check` ok) and describe it."""
    try:
        with path.open("rb") as f:
            header = f.read(len(HEADER))
    except OSError as exc:
        raise BackupError(f"{path}: {exc.strerror or exc}") from None
    if header != HEADER:
        raise BackupError(f"{path} is not a SQLite database")
    try:
        with closing(_connect(path, read_only=True)) as conn:
            check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if check != ["ok"]:
                raise BackupError(f"{path} is damaged: {'; '.join(check)[:200]}")
            tables = _counts(conn)
            revision = _revision(conn, tables)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    return Summary(tables, path.stat().st_size, revision)


def backup(source: Path, target: Path, *, force: bool = False) -> Summary:
    """Copy the live database `source` to `target` (refused when it exists, unless `force`)."""
    if target.exists() and not force:
        raise BackupError(f"{target} exists; --force replaces it")
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)
    try:
        with closing(_connect(source)) as src, closing(_connect(part)) as dst:
            src.backup(dst)  # all pages in one step: one snapshot, writers go on under WAL
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        summary = inspect(part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return Summary(summary.tables, target.stat().st_size, summary.revision)


def held(path: Path) -> dict[str, int]:
    """Tables of the database at `path` that hold data beyond a new database's (rows each)."""
    if not path.exists():
        return {}
    with closing(_connect(path)) as conn:
        return {t: n for t, n in _counts(conn).items() if n and t not in SEEDED}


def restore(source: Path, target: Path, known: Callable[[str], bool]) -> Summary:
    """Copy the backup `source` into the empty database `target`; `known(revision)`: the
    code has that migration. Returns the backup's summary once the copy matches it."""
    summary = inspect(source)
    if summary.revision is None:
        raise BackupError(f"{source} is not a backup of this bot (no migration recorded)")
    if not known(summary.revision):
        raise BackupError(
            f"{source} is at migration {summary.revision}, which this code does not know "
            "(a newer version made it): restore it with that version"
        )
    found = held(target)
    if found:
        tables = ", ".join(f"{t} ({n})" for t, n in sorted(found.items()))
        raise NotEmpty(f"{target} holds data in {tables}; restore only goes into an empty one")
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(_connect(source, read_only=True)) as src, closing(_connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
        copied = _counts(dst)
    if copied != summary.tables:
        differ = sorted(t for t in summary.tables.keys() | copied.keys()
                        if summary.tables.get(t) != copied.get(t))  # fmt: skip
        raise BackupError(f"the restored rows differ from the backup's in {', '.join(differ)}")
    return summary
