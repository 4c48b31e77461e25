"""The client's side of a return visit (回访): a score with the buttons, then what could be
better, in their own words (optional)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.core.i18n import Translator
from bot.core.router import UNHANDLED, Router
from bot.core.state import StateControl
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.menus import main_menu
from storage.records import Client
from storage.tx import Tx

router = Router("return_visits")
COMMENT_MINUTES = 60


@router.callback("rv")
async def score(data: str, t: Translator, tx: Tx, client: Client, fsm: StateControl) -> Outbound:
    wave, _, value = data.partition(":")
    if data == "skip":
        await fsm.clear()
        return Outbound(t("visits.thanks"), buttons=main_menu(t))
    if not (wave.isdigit() and len(wave) < 4 and value in {"1", "2", "3", "4", "5"}):
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    if not await tx.return_visits.answer(client.id, int(wave), int(value)):
        return Outbound(t("visits.already"))
    await fsm.set("rv.comment", wave=int(wave), started=tx.now().isoformat())
    return Outbound(t("visits.better"), buttons=[[Button(t("visits.skip"), "rv:skip")]])


@router.state("rv.comment")
async def comment(
    event: Inbound, t: Translator, tx: Tx, client: Client, fsm: StateControl,
    state_data: dict[str, Any],
) -> Outbound:  # fmt: skip
    await fsm.clear()
    text = clean_input(event.text)
    started = dt.datetime.fromisoformat(str(state_data.get("started")))
    if tx.now() - started > dt.timedelta(minutes=COMMENT_MINUTES):
        return UNHANDLED  # a new message, long after: not a comment, answered as any other
    if text:
        await tx.return_visits.comment(client.id, int(state_data.get("wave", 0)), text[:2000])
    return Outbound(t("visits.thanks"), buttons=main_menu(t))
