"""`python -m bot messages …`: what staff need to see of the archive from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.base import EXIT_OK, database
from bot.config import Settings
from storage.records import StoredMessage

NAME = "messages"
QUIET = False


def add_parser(sub: Any) -> None:
    messages = sub.add_parser(
        NAME,
        help="inspect the message archive",
        description="Inspect the message archive.",
    )
    actions = messages.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    failed = actions.add_parser(
        "failed",
        help="events that could not be recorded or handled, and undeliverable messages",
        description="List quarantined inbound events (kept with their error; nothing a client "
        "sent is dropped) and, with --outbound, messages given up on (failed or ambiguous).",
    )
    failed.add_argument("--outbound", action="store_true", help="list outbound messages instead")
    failed.add_argument("--limit", type=int, default=50, help="how many, newest first (default 50)")
    failed.add_argument("--json", action="store_true", help="one JSON object per line")


def _line(row: StoredMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.created_at.isoformat(),
        "channel": row.channel,
        "chat": row.chat,
        "status": row.status,
        "kind": row.kind,
        "text": (row.text or "")[:200],
        "error": row.error,
        "dedupe_key": row.dedupe_key,
    }


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as db, db.read() as tx:
        rows = await tx.messages.failed(
            direction="out" if args.outbound else "in", limit=max(1, args.limit)
        )
    for row in rows:
        line = _line(row)
        if args.json:
            print(json.dumps(line, ensure_ascii=False))
        else:
            text = line["text"].replace("\n", " ")
            print(
                f"#{row.id} {line['at'][:19]} {row.chat} [{row.status}] {text[:60]!r}\n"
                f"    {row.error or ''}"
            )
    if not rows and not args.json:
        print("nothing failed", file=sys.stderr)
    return EXIT_OK
