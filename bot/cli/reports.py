"""`python -m bot report complaints|consultations --month YYYY-MM`: the month's complaint
handling forms (客户投诉处理单) and call record forms (客户来电记录单), as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.base import EXIT_OK, database, translator
from bot.config import Settings
from bot.core.text import sheet_cell, to_plain
from broadcasts import monthly
from storage.records import Ticket, TicketEvent
from storage.tx import Tx

NAME = "report"
QUIET = True
COMPLAINT_COLUMNS = (
    "number", "time", "client", "category", "content", "handler", "investigation_notes",
    "result", "client_feedback", "closed_at",
)  # fmt: skip
CONSULT_COLUMNS = (
    "number", "time", "client", "question", "taken_by", "handled_by", "answer", "answered_at",
)  # fmt: skip
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def _month(value: str) -> str:
    if not _MONTH.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month like 2026-11")
    return value


def add_parser(sub: Any) -> None:
    report = sub.add_parser(NAME, help="monthly service reports", description=__doc__)
    kinds = report.add_subparsers(dest="report_kind", required=True, metavar="REPORT")
    for name, what in (
        ("complaints", "complaint handling forms"),
        ("consultations", "call record forms"),
    ):
        one = kinds.add_parser(name, help=f"the month's {what}")
        one.add_argument("--month", required=True, type=_month, help="YYYY-MM, in TIMEZONE")
        one.add_argument("--format", choices=["csv", "json"], default="csv")
    monthly_ = kinds.add_parser("monthly", help="the month's feedback report (text, CSV, HTML)")
    monthly_.add_argument("--month", required=True, type=_month, help="YYYY-MM, in TIMEZONE")
    monthly_.add_argument(
        "-o", "--output", type=Path, default=Path("."), help="directory for the CSV and HTML"
    )


def _bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, mon = int(month[:4]), int(month[5:])
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def _at(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _steps(history: list[TicketEvent], action: str) -> list[TicketEvent]:
    return [e for e in history if e.action == action]


def _complaint(
    ticket: Ticket, name: str, history: list[TicketEvent], tz: ZoneInfo
) -> dict[str, str]:
    notes = [f"{_at(e.at, tz)} {e.actor}: {e.text}" for e in _steps(history, "reply")]
    feedback = f"{ticket.rating}/5 {ticket.feedback or ''}".strip() if ticket.rating else ""
    return {
        "number": ticket.number,
        "time": _at(ticket.created_at, tz),
        "client": name or ticket.chat,
        "category": ticket.category or "",
        "content": ticket.text,
        "handler": ticket.advisor or "",
        "investigation_notes": " | ".join(notes),
        "result": ticket.result or "",
        "client_feedback": feedback,
        "closed_at": _at(ticket.closed_at or ticket.resolved_at, tz),
    }


def _consultation(
    ticket: Ticket, name: str, history: list[TicketEvent], tz: ZoneInfo
) -> dict[str, str]:
    taken = _steps(history, "claimed") or _steps(history, "routed")
    replies = _steps(history, "reply")
    answer = " | ".join(e.text or "" for e in replies) or (ticket.result or "")
    return {
        "number": ticket.number,
        "time": _at(ticket.created_at, tz),
        "client": name or ticket.chat,
        "question": ticket.text,
        "taken_by": (taken[0].actor if taken[0].action == "claimed" else taken[0].text or "")
        if taken
        else "",
        "handled_by": replies[-1].actor if replies else (ticket.advisor or ""),
        "answer": answer,
        "answered_at": _at(ticket.responded_at, tz),
    }


async def _rows(tx: Tx, kind: str, month: str, tz: ZoneInfo) -> list[dict[str, str]]:
    start, end = _bounds(month, tz)
    form = _complaint if kind == "complaint" else _consultation
    out = []
    for ticket, name in await tx.tickets.month(kind, start, end):
        out.append(form(ticket, name, await tx.tickets.history(ticket.id), tz))
    return out


async def _monthly(settings: Settings, args: argparse.Namespace) -> int:
    t = translator(settings)
    start, end = _bounds(args.month, settings.core.tz)
    async with database(settings) as db, db.read() as tx:
        figures = await tx.monthly.figures(start, end)
    args.output.mkdir(parents=True, exist_ok=True)
    base = args.output / f"monthly-{args.month}"
    base.with_suffix(".csv").write_text(monthly.to_csv(figures), "utf-8-sig")
    page = monthly.to_html(t, args.month, settings.core.firm_name, figures)
    base.with_suffix(".html").write_text(page, "utf-8")
    print(to_plain(monthly.text(t, args.month, figures)))
    print(f"wrote {base}.csv and {base}.html", file=sys.stderr)
    return EXIT_OK


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.report_kind == "monthly":
        return await _monthly(settings, args)
    kind = "complaint" if args.report_kind == "complaints" else "consult"
    async with database(settings) as db, db.read() as tx:
        rows = await _rows(tx, kind, args.month, settings.core.tz)
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        columns = COMPLAINT_COLUMNS if kind == "complaint" else CONSULT_COLUMNS
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: sheet_cell(v) for k, v in row.items()} for row in rows)
    print(f"{len(rows)} {args.report_kind} in {args.month}", file=sys.stderr)
    return EXIT_OK
