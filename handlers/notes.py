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
    try:  # screened when written, not only when sent
        plan = await lifecycle.plan(tx, t, author=event.sender, text=text, topics=[slot])
    except BroadcastError as exc:
        return Outbound(str(exc))
    new = await tx.rhythm.save_note(slot, day, text, event.sender)
    await tx.audit.log(event.sender, "note.save", slot=slot, day=day.isoformat(), new=new)
    trading = rhythm.calendar().is_trading(day)
    warning = "" if trading else t("notes.not_trading" if trading is False else "notes.unknown_day")
    at = rhythm.at(slot, day)
    return Outbound(
        t(
            "notes.saved",
            slot=t(f"rhythm.slot_{slot}"),
            at=f"{at:%Y-%m-%d %H:%M}",
            n=plan.recipients,
            text=Markup("\n".join(plan.final[t.lang])),
            warning=Markup(warning),
        )
    )


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
