"""`python -m bot db upgrade|current`: database maintenance."""

from __future__ import annotations

import argparse
from typing import Any

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


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings, migrate=args.db_command == "upgrade") as db:
        applied, head = await current(db)
        print(f"database at revision {applied or '(none)'}; newest is {head}")
    return EXIT_OK
