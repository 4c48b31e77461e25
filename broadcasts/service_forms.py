"""The month's service forms, as the seed's paper forms were: the complaint handling form
(客户投诉处理单) and the call record form (客户来电记录单), one row per ticket. Shared by
`python -m bot report` and the staff console's downloads."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.text import sheet_cell
from storage.records import Ticket, TicketEvent
from storage.tx import Tx

COMPLAINT_COLUMNS = (
    "number", "time", "client", "category", "content", "handler", "investigation_notes",
    "result", "client_feedback", "closed_at",
)  # fmt: skip
CONSULT_COLUMNS = (
    "number", "time", "client", "question", "taken_by", "handled_by", "answer", "answered_at",
)  # fmt: skip


def bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
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


async def rows(tx: Tx, kind: str, month: str, tz: ZoneInfo) -> list[dict[str, str]]:
    start, end = bounds(month, tz)
    form = _complaint if kind == "complaint" else _consultation
    out = []
    for ticket, name in await tx.tickets.month(kind, start, end):
        out.append(form(ticket, name, await tx.tickets.history(ticket.id), tz))
    return out


def to_csv(kind: str, found: list[dict[str, str]]) -> str:
    """The rows as a spreadsheet reads them (no cell taken for a formula)."""
    out = io.StringIO()
    columns = COMPLAINT_COLUMNS if kind == "complaint" else CONSULT_COLUMNS
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: sheet_cell(v) for k, v in row.items()} for row in found)
    return out.getvalue()
