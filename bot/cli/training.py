"""`python -m bot training export DATE`: who answered a training invitation, as CSV."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from typing import Any

from bot.cli.base import EXIT_OK, database, refuse
from bot.config import Settings
from bot.core.text import sheet_cell

NAME = "training"
QUIET = True


def add_parser(sub: Any) -> None:
    training = sub.add_parser(NAME, help="non-farm day training", description=__doc__)
    actions = training.add_subparsers(dest="training_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="the answers for one session, as CSV")
    export.add_argument("date", help="the session's day, YYYY-MM-DD")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        return refuse("training", f"{args.date!r} is not a date like 2027-01-08")
    async with database(settings) as db, db.read() as tx:
        session = await tx.training.session(day)
        rows = await tx.training.attendees(day) if session else []
    if session is None:
        return refuse("training", f"there is no session on {day}")
    writer = csv.writer(sys.stdout)
    writer.writerow(["name", "address", "answer", "status", "answered_at"])
    tz = settings.core.tz
    for name, chat, answer, status, at in rows:
        # In the firm's own time, with its offset, so a spreadsheet reads it unambiguously.
        when = at.astimezone(tz).isoformat(timespec="seconds") if at else ""
        writer.writerow([sheet_cell(name), chat, answer, status, when])
    print(
        f"{sum(1 for r in rows if r[3] == 'seat')} seats taken of {session.seats}", file=sys.stderr
    )
    return EXIT_OK
