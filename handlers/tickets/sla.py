"""The desk's clock: SLA breaches announced once, resolved tickets closed after the reopen days."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.i18n import Markup, Translator
from bot.core.types import Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.ticket_notices import desk_buttons, label, ref, translator_for
from storage.records import Ticket
from storage.tx import Tx


async def tick(tx: Tx, desk: DeskPolicy, t: Translator, now: datetime) -> list[Outbound]:
    """The desk's clock: SLA breaches are announced once; resolved tickets nobody reopened
    close by themselves."""
    outs: list[Outbound] = []
    for ticket in await tx.tickets.due_breaches(now):
        await tx.tickets.event(ticket.id, "system", "breached")
        first = desk.staff_chat or ticket.advisor
        for target in [first] if first else desk.admins:
            tt = await translator_for(tx, t, target)
            outs.append(_breach(tt, desk, ticket, target))
    await tx.tickets.close_resolved(now - timedelta(days=desk.reopen_days))
    return outs


def _breach(tt: Translator, desk: DeskPolicy, ticket: Ticket, target: str) -> Outbound:
    body = tt(
        "desk.breach",
        label=Markup(label(tt, ticket)),
        due=desk.local(ticket.due_at),
        advisor=ticket.advisor or tt("desk.nobody"),
    )
    return Outbound(body, chat=target, buttons=desk_buttons(tt, ticket), ref=ref(ticket))
