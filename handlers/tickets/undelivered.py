"""Relayed messages that did not arrive (the client blocked the bot, say), from the delivery
engine's outcomes: written on the ticket, and whoever sent it is told."""

from __future__ import annotations

from bot.core.i18n import Markup, Translator
from bot.core.types import Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.ticket_notices import label, translator_for
from storage.records import Outcome
from storage.tx import Tx


async def undelivered(
    tx: Tx, t: Translator, desk: DeskPolicy, missed: list[Outcome]
) -> list[Outbound]:
    """A relayed message did not arrive (the client blocked the bot, say): written on the
    ticket, and whoever sent it is told."""
    outs: list[Outbound] = []
    for outcome in missed:
        kind, _, raw = str(outcome.ref).partition(":")
        ticket = await tx.tickets.get(int(raw)) if kind == "ticket" and raw.isdigit() else None
        if ticket is None:
            continue
        await tx.tickets.event(
            ticket.id, "system", "undelivered", f"{outcome.chat}: {outcome.status}"
        )
        to_client = outcome.chat == ticket.chat
        target = (ticket.advisor or desk.staff_chat) if to_client else desk.staff_chat
        if target is None or target == outcome.chat:
            continue
        tt = await translator_for(tx, t, target)
        key = "desk.client_unreachable" if to_client else "desk.advisor_unreachable"
        outs.append(
            Outbound(tt(key, label=Markup(label(tt, ticket)), chat=outcome.chat), chat=target)
        )
    return outs
