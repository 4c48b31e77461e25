"""`python -m bot db backup|restore|purge`: copies of the database, and the retention purge.

SQLite is copied with its online backup API (`storage.backup`); PostgreSQL has its own tools,
pg_dump and pg_restore, and the commands say how to use them instead."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bot.app import retention_policy
from bot.cli.base import EXIT_FAILED, EXIT_OK, database, refuse
from bot.config import Settings
from bot.startup import sqlite_path
from broadcasts import retention
from storage import backup as copies
from storage.database import Database
from storage.migrate import current, known_revision, upgrade

# The driver part (+asyncpg) is SQLAlchemy's; pg_dump and pg_restore take the plain URL.
PLAIN_URL = 'DATABASE_URL without "+asyncpg", e.g. postgresql://bot@db-host/bot'
PG_DUMP = f'pg_dump --format=custom --file=FILE "$URL" ($URL: {PLAIN_URL})'
PG_RESTORE = (
    f'pg_restore --no-owner --exit-on-error --dbname="$URL" FILE into an empty database '
    f"($URL: {PLAIN_URL})"
)
LABELS = {"erased": "erased clients (with their kept records)", "messages": "messages",
          "audit": "audit entries"}  # fmt: skip


async def backup(settings: Settings, file: Path, force: bool) -> int:
    source = sqlite_path(settings.core.database_url)
    if source is None:
        return refuse("db backup", f"PostgreSQL is backed up with pg_dump: {PG_DUMP}")
    try:
        summary = copies.backup(source, file, force=force)
    except copies.BackupError as exc:
        return refuse("db backup", exc)
    print(f"wrote {file}: {summary.line()}")
    return EXIT_OK


async def restore(settings: Settings, file: Path) -> int:
    target = sqlite_path(settings.core.database_url)
    if target is None:
        return refuse(
            "db restore",
            f"into PostgreSQL, restore a pg_dump file with pg_restore: {PG_RESTORE}",
        )
    try:
        summary = copies.restore(file, target, known_revision)
    except copies.NotEmpty as exc:
        return refuse("db restore", exc)
    except copies.BackupError as exc:
        print(f"db restore: {exc}", file=sys.stderr)
        return EXIT_FAILED
    async with database(settings, migrate=False) as db:
        await upgrade(db)
        applied, _ = await current(db)
    moved = "" if applied == summary.revision else f", upgraded to {applied}"
    print(
        f"restored {file} into {target}: {len(summary.tables)} tables, {summary.rows} rows, "
        f"each table's count as in the backup; revision {summary.revision}{moved}"
    )
    return EXIT_OK


async def purge(settings: Settings, dry_run: bool) -> int:
    policy = retention_policy(settings)
    if policy is None:
        print("nothing is purged: RETENTION_MESSAGES_YEARS, _ERASED_YEARS and _AUDIT_YEARS are 0")
        return EXIT_OK
    async with database(settings) as db:
        now = db.clock()
        counts = await (
            retention.preview(db, policy, now)
            if dry_run
            else retention.purge(db, policy, now, actor="cli")
        )
        _report(db, policy, now, counts, dry_run)
    return EXIT_OK


def _report(
    db: Database, policy: retention.RetentionPolicy, now: dt.datetime, counts: dict[str, int],
    dry_run: bool,
) -> None:  # fmt: skip
    cut = policy.cutoffs(now)
    verb = "would delete (dry run, nothing deleted)" if dry_run else "deleted"
    print(f"{verb}: " + ", ".join(f"{counts[k]} {LABELS[k]}" for k in retention.KINDS))
    for kind in retention.KINDS:
        if kind in cut:
            print(f"  {LABELS[kind]}: from before {cut[kind]:%Y-%m-%d}")
        else:
            print(f"  {LABELS[kind]}: kept forever")


def add_parsers(db_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    made = db_sub.add_parser(
        "backup",
        help="copy the database to FILE, safely while the bot runs (SQLite)",
        description="Copy the SQLite database to FILE while the bot runs (SQLite's online "
        "backup); prints tables, rows and size. PostgreSQL: use pg_dump (the command says how).",
    )
    made.add_argument("file", metavar="FILE", type=Path)
    made.add_argument("--force", action="store_true", help="replace FILE if it exists")
    back = db_sub.add_parser(
        "restore",
        help="copy a backup FILE into an empty database, then migrate",
        description="Restore a backup made by `db backup` into an empty database: the file is "
        "checked first (SQLite, intact, a migration this code knows), each table's rows are "
        "counted against it, then the migrations are applied.",
    )
    back.add_argument("file", metavar="FILE", type=Path)
    purge_ = db_sub.add_parser(
        "purge",
        help="delete what is past its keeping period (RETENTION_*)",
        description="Delete what is past its keeping period (RETENTION_* settings), as the "
        "daily run does; --dry-run shows what would go.",
    )
    purge_.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
