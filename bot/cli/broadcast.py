"""`python -m bot broadcast send|status|cancel|list`: broadcasts for scripts and operators.

A running bot delivers what `send` writes (its workers look for new rows every half second);
`status` counts the delivery rows by state and is exact while it runs."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from bot.cli.base import EXIT_OK, database, refuse, translator
from bot.config import Settings
from bot.core.i18n import Translator
from bot.core.text import to_plain
from bot.core.types import normalize_address
from broadcasts import lifecycle
from broadcasts.lifecycle import BroadcastError

NAME = "broadcast"
QUIET = True
STATES = (
    "pending", "queued", "sending", "sent", "mass", "blocked", "failed", "ambiguous", "cancelled",
)  # fmt: skip


def add_parser(sub: Any) -> None:
    cast = sub.add_parser(NAME, help="send and follow broadcasts", description=__doc__)
    actions = cast.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")
    send = actions.add_parser("send", help="send (or schedule) a broadcast; prints its id")
    who = send.add_mutually_exclusive_group(required=True)
    who.add_argument("--topic", nargs="+", metavar="KEY", help="topics whose subscribers get it")
    who.add_argument("--segment", metavar="EXPR", help="e.g. tier=vip,tag=黄金,language=zh")
    send.add_argument("--text", required=True)
    send.add_argument(
        "--sms", metavar="TEXT", help="a short text for SMS (topics in SMS_TOPICS only)"
    )
    send.add_argument("--at", metavar="ISO8601", help="when, e.g. 2026-12-02T08:30 (TIMEZONE)")
    send.add_argument("--yes", action="store_true", help="send without asking")
    send.add_argument(
        "--as", dest="author", metavar="ADDRESS", help="a staff address (default: the first admin)"
    )
    status = actions.add_parser("status", help="delivery counts by state")
    status.add_argument("id", type=int)
    status.add_argument("--json", action="store_true")
    cancel = actions.add_parser("cancel", help="cancel a scheduled broadcast or stop a running one")
    cancel.add_argument("id", type=int)
    actions.add_parser("list", help="recent and scheduled broadcasts")


def _when(value: str | None, settings: Settings, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BroadcastError(f"--at {value!r} is not a time like 2026-12-02T08:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=settings.core.tz)


async def _author(tx: Any, settings: Settings, given: str | None) -> str:
    if given is None:
        return sorted(settings.core.bot_admins)[0]
    try:
        address = normalize_address(given)
    except ValueError as exc:
        raise BroadcastError(f"--as: {exc}") from None
    if address not in settings.core.bot_admins and "staff" not in await tx.roles.of(address):
        raise BroadcastError(f"--as {address} does not hold the staff role")
    return address


async def _send(settings: Settings, args: argparse.Namespace, t: Translator) -> int:
    async with database(settings) as db:
        refused: BroadcastError | None = None
        async with db.write() as tx:  # committed even when refused: the audit row stays
            try:
                author = await _author(tx, settings, args.author)
                segment = lifecycle.parse_segment(args.segment) if args.segment else None
                plan = await lifecycle.plan(
                    tx, t, author=author, text=args.text, topics=args.topic, segment=segment,
                    sms_text=args.sms,
                )  # fmt: skip
                send_at = _when(args.at, settings, tx.now())
                lifecycle.check_time(send_at, tx.now(), t)
            except BroadcastError as exc:
                refused = exc
        if refused is not None:
            raise refused
        if plan.recipients == 0:
            raise BroadcastError("nobody matches this audience; nothing was sent")
        print(f"{plan.recipients} recipients", file=sys.stderr)
        print(to_plain(plan.routes(t)), file=sys.stderr)
        print("clients will read:\n", file=sys.stderr)
        print(to_plain("\n".join(plan.final["zh"])), file=sys.stderr)
        if not args.yes:
            raise BroadcastError("add --yes to send it")
        async with db.write() as tx:
            broadcast = await lifecycle.create(tx, plan, author=author, send_at=send_at)
    print(broadcast.id)
    return EXIT_OK


async def run(settings: Settings, args: argparse.Namespace) -> int:
    t = translator(settings)
    try:
        if args.broadcast_command == "send":
            return await _send(settings, args, t)
        async with database(settings) as db, db.write() as tx:
            if args.broadcast_command == "list":
                for b in await tx.broadcasts.recent():
                    counts = await tx.broadcasts.counts(b.id)
                    when = b.send_at.astimezone(settings.core.tz).strftime("%Y-%m-%d %H:%M")
                    print(
                        f"#{b.id} {when} [{b.status}] {b.recipients} recipients, "
                        f"{counts.get('sent', 0)} sent  {b.text[:40]!r}"
                    )
                return EXIT_OK
            broadcast = await tx.broadcasts.get(args.id)
            if broadcast is None:
                raise BroadcastError(f"there is no broadcast {args.id}")
            if args.broadcast_command == "cancel":
                result = await tx.broadcasts.cancel(args.id)
                if result is None:
                    raise BroadcastError(f"broadcast {args.id} has already {broadcast.status}")
                await tx.audit.log("cli:broadcast", f"broadcast.{result}", broadcast=args.id)
                print(f"broadcast {args.id} {result}")
                return EXIT_OK
            counts = await tx.broadcasts.counts(args.id)
            routes = await tx.broadcasts.routes(args.id)
            mass = await tx.wechat_mass.of_broadcast(args.id)
            groups = await tx.wecom_groups.of_broadcast(args.id)
    except BroadcastError as exc:
        return refuse("broadcast", exc)
    report: dict[str, object] = {
        "id": broadcast.id, "status": broadcast.status, "recipients": broadcast.recipients,
    }  # fmt: skip
    report |= {state: counts.get(state, 0) for state in STATES}
    report["routes"] = routes
    if mass:  # WeChat's own figures for the mass sends (it reports no single follower)
        report["wechat_mass"] = [
            {"followers": len(j.chats), "status": j.status, "sent": j.sent, "errors": j.errors,
             "filtered_to": j.filtered, "error": j.error}
            for j in mass
        ]  # fmt: skip
    if groups:  # advisors' WeCom group messages: waiting for them, or what WeCom reported
        report["wecom_group"] = [
            {"advisor": j.userid, "clients": len(j.chats), "status": j.status, "error": j.error}
            for j in groups
        ]
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(" ".join(f"{k}={v}" for k, v in report.items()))
    return EXIT_OK
