"""Staff write the morning and evening notes ahead: /note morning|evening [--date D] TEXT,
/note list; /schedule shows what goes out next."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Markup, Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound
from broadcasts import lifecycle
from broadcasts.lifecycle import BroadcastError
from broadcasts.rhythm import SLOTS, Rhythm
from broadcasts.trading_calendar import TradingCalendar
from storage.tx import Tx

router = Router("notes")


@router.command("note", roles=("staff",))
async def note(event: Inbound, t: Translator, tx: Tx, args: list[str], rhythm: Rhythm) -> Outbound:
    today = tx.now().astimezone(rhythm.tz).date()
    if args and args[0].lower() == "list":
        lines = [t("notes.list_title")]
        for n in await tx.rhythm.upcoming_notes(today):
            state = t("notes.sent") if n.broadcast_id else t("notes.waiting")
            lines.append(
                t(
                    "notes.list_line",
                    day=n.day.isoformat(),
                    slot=t(f"rhythm.slot_{n.slot}"),
                    state=state,
                    text=n.text[:30],
                )
            )
        return Outbound("\n".join(lines) if len(lines) > 1 else t("notes.none"))
    slot = args[0].lower() if args else ""
    if slot not in SLOTS:
        return Outbound(t("notes.usage"))
    words = event.text.split(None, 2)
    text = words[2].strip() if len(words) == 3 else ""
    day = today
    if text.startswith("--date"):
        parts = text.split(None, 2)
        try:
            day = dt.date.fromisoformat(parts[1]) if len(parts) > 1 else today
        except ValueError:
            return Outbound(t("notes.bad_date"))
        text = parts[2].strip() if len(parts) == 3 else ""
        if day < today:
            return Outbound(t("notes.past"))
    if not text:
        return Outbound(t("notes.usage"))
    name, at = t(f"rhythm.slot_{slot}"), rhythm.at(slot, day)
    if at <= tx.now():  # today's slot has fired: a note kept for it would never go out
        return Outbound(t("notes.slot_passed", slot=name, at=f"{at:%H:%M}"))
    calendar = rhythm.calendar()
    trading = calendar.is_trading(day)
    if trading is False:  # never sent, so not kept: say so, and where it could go
        after = _next_trading(calendar, day)
        if after is None:
            return Outbound(t("notes.closed_day", day=day.isoformat(), slot=name, key=slot))
        return Outbound(
            t("notes.closed_day_next", day=day.isoformat(), slot=name, key=slot,
              next=after.isoformat())
        )  # fmt: skip
    try:  # screened when written, not only when sent
        plan = await lifecycle.plan(
            tx, t, author=event.sender, text=text, topics=[slot], blocked="notes.blocked"
        )
    except BroadcastError as exc:
        return Outbound(str(exc))
    new = await tx.rhythm.save_note(slot, day, text, event.sender)
    await tx.audit.log(event.sender, "note.save", slot=slot, day=day.isoformat(), new=new)
    warning = "" if trading else t("notes.unknown_day")
    return Outbound(
        t(
            "notes.saved",
            slot=name,
            at=f"{at:%Y-%m-%d %H:%M}",
            n=plan.recipients,
            routes=Markup(plan.routes(t)),
            text=Markup("\n".join(plan.final[t.lang])),
            warning=Markup(warning),
        )
    )


def _next_trading(calendar: TradingCalendar, day: dt.date, within: int = 31) -> dt.date | None:
    """The first trading day after `day` the calendar knows of (None past its data)."""
    for offset in range(1, within + 1):
        state = calendar.is_trading(day + dt.timedelta(days=offset))
        if state is None:
            return None
        if state:
            return day + dt.timedelta(days=offset)
    return None


@router.command("schedule", roles=("staff",))
async def schedule(t: Translator, tx: Tx, rhythm: Rhythm) -> Outbound:
    lines = [t("notes.schedule_title")]
    for slot, at, trading in rhythm.upcoming(tx.now(), days=3):
        written = await tx.rhythm.note(slot, at.date())
        state = (
            t("notes.no_trading") if trading is False else t("notes.unknown") if trading is None
            else t("notes.ready") if written else t("notes.not_written")
        )  # fmt: skip
        lines.append(
            t(
                "notes.schedule_line",
                at=f"{at:%m-%d %H:%M}",
                slot=t(f"rhythm.slot_{slot}"),
                state=state,
            )
        )
    return Outbound("\n".join(lines))
