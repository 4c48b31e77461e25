"""Answers to the non-farm day training invitation, and /training list for staff."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound
from broadcasts.training import ANSWERS
from handlers.menu import main_menu
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
async def training(t: Translator, tx: Tx, args: list[str]) -> Outbound:
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
