"""`python -m bot db upgrade|current|backup|restore|purge`: database maintenance."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import backups
from bot.cli.base import EXIT_OK, database
from bot.config import Settings
from storage.migrate import current

NAME = "db"
QUIET = False


def add_parser(sub: Any) -> None:
    db = sub.add_parser(NAME, help="database maintenance", description="Database maintenance.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply all migrations (also done at start)")
    db_sub.add_parser("current", help="show the applied and the newest revision")
    backups.add_parsers(db_sub)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.db_command == "backup":
        return await backups.backup(settings, args.file, args.force)
    if args.db_command == "restore":
        return await backups.restore(settings, args.file)
    if args.db_command == "purge":
        return await backups.purge(settings, args.dry_run)
    async with database(settings, migrate=args.db_command == "upgrade") as db:
        applied, head = await current(db)
        print(f"database at revision {applied or '(none)'}; newest is {head}")
    return EXIT_OK
