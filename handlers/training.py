"""Answers to the non-farm day training invitation, and /training list for staff."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound
from broadcasts.training import ANSWERS, TrainingPolicy
from handlers.shared.menus import main_menu
from storage.records import Client
from storage.tx import Tx

router = Router("training")


@router.callback("tr")
async def rsvp(
    event: Inbound, data: str, t: Translator, tx: Tx, client: Client
) -> Outbound | list[Outbound]:
    raw, _, answer = data.rpartition(":")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        day = None
    session = await tx.training.session(day) if day else None
    if session is None or answer not in ANSWERS or day < tx.now().date() - dt.timedelta(days=1):  # type: ignore[operator]
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    status, promoted = await tx.training.answer(session.day, client.id, event.chat, answer)
    key = {"seat": "training.seat", "waiting": "training.waiting"}.get(
        status, f"training.noted_{answer}"
    )
    outs = [Outbound(t(key, day=session.day.isoformat(), time=session.time, place=session.place))]
    if promoted:
        outs.append(
            Outbound(
                t(
                    "training.promoted",
                    day=session.day.isoformat(),
                    time=session.time,
                    place=session.place,
                ),
                chat=promoted,
            )
        )
    return outs


@router.command("training", roles=("staff",))
async def training(
    event: Inbound, t: Translator, tx: Tx, args: list[str], training_policy: TrainingPolicy
) -> Outbound:
    """/training, or /training set DATE place TEXT | seats N | time HH:MM."""
    if args and args[0].lower() == "set":
        return await _set(event, t, tx, args[1:], training_policy)
    sessions = await tx.training.upcoming(tx.now().date())
    if not sessions:
        return Outbound(t("training.none"))
    lines = [t("training.list_title")]
    for s in sessions:
        taken = await tx.training.count(s.day, "seat")
        waiting = await tx.training.count(s.day, "waiting")
        lines.append(
            t("training.list_line", day=s.day.isoformat(), time=s.time, place=s.place,
              seats=s.seats, taken=taken, waiting=waiting)
        )  # fmt: skip
    return Outbound("\n".join(lines))


async def _set(
    event: Inbound, t: Translator, tx: Tx, args: list[str], policy: TrainingPolicy
) -> Outbound:
    try:
        day = dt.date.fromisoformat(args[0]) if args else None
    except ValueError:
        day = None
    field = args[1].lower() if len(args) > 1 else ""
    value = " ".join(args[2:]).strip()
    if day is None or field not in ("place", "seats", "time") or not value:
        return Outbound(t("training.set_usage"))
    if field == "seats" and not (value.isdigit() and 1 <= int(value) <= 10_000):
        return Outbound(t("training.set_usage"))
    if field == "time":
        try:
            value = dt.time.fromisoformat(value).strftime("%H:%M")
        except ValueError:
            return Outbound(t("training.set_usage"))
    if field == "place" and len(value) > 200:
        return Outbound(t("training.set_usage"))
    await tx.training.ensure(day, place=policy.place, time=policy.time, seats=policy.seats)
    await tx.training.update(day, **{field: int(value) if field == "seats" else value})
    await tx.audit.log(event.sender, "training.set", day=day.isoformat(), field=field, value=value)
    return Outbound(t("training.set_done", day=day.isoformat(), field=field, value=value))
