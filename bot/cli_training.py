"""`python -m bot training export DATE`: who answered a training invitation, as CSV."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from typing import Any

from bot.cli_clients import cell
from bot.config import Settings
from bot.startup import open_database


def add_parser(sub: Any) -> None:
    training = sub.add_parser("training", help="non-farm day training", description=__doc__)
    actions = training.add_subparsers(dest="training_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="the answers for one session, as CSV")
    export.add_argument("date", help="the session's day, YYYY-MM-DD")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"training: {args.date!r} is not a date like 2027-01-08", file=sys.stderr)
        return 2
    db = await open_database(settings.core.database_url)
    try:
        async with db.read() as tx:
            session = await tx.training.session(day)
            rows = await tx.training.attendees(day) if session else []
    finally:
        await db.close()
    if session is None:
        print(f"training: there is no session on {day}", file=sys.stderr)
        return 2
    writer = csv.writer(sys.stdout)
    writer.writerow(["name", "address", "answer", "status", "answered_at"])
    for name, chat, answer, status, at in rows:
        writer.writerow([cell(name), chat, answer, status, at.isoformat() if at else ""])
    print(
        f"{sum(1 for r in rows if r[3] == 'seat')} seats taken of {session.seats}", file=sys.stderr
    )
    return 0
