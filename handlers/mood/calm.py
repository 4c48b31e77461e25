"""An upset client (情绪激动者) is calmed, never told "I am not sure" by the FAQ.

Seed rule: keep calm and say "我非常理解您的心情,希望我们心平气和地交谈,将问题尽快解决",
then bring the talk back to the concrete problem. So: that reply with a question about what
happened, a complaint or an advisor one tap away; the client's open ticket moves up the desk's
queue, and the staff chat hears of it (once an hour per client, not at every message).

Tier FALLBACK, included just before the FAQ: commands, buttons, forms the client is filling in
and their conversation with an advisor all come first (a form already records what is said)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.i18n import Markup, Translator
from bot.core.router import UNHANDLED, Router, Tier
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.language import language_of
from handlers.shared.mood import Recent, upset
from handlers.shared.ticket_notices import label, translator_for
from storage.records import Client, Ticket
from storage.tx import Tx

router = Router("mood.calm")

LOOK_BACK = 8  # earlier messages read for repetition: the lexicon's window holds fewer
TELL_EVERY = timedelta(hours=1)  # the staff chat hears of one client at most this often
UPSET = "mood:upset"  # the reply's reference on its outbox row, for the monthly figures


def _text(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    return {} if event.kind == "text" else None


async def _recent(tx: Tx, event: Inbound, message_id: int) -> list[Recent]:
    now = tx.now()
    return [
        ((now - m.created_at).total_seconds(), m.text or "")
        for m in await tx.messages.for_chat(event.chat, limit=LOOK_BACK)
        if m.direction == "in" and m.kind == "text" and m.id != message_id
    ]


@router.add(Tier.FALLBACK, _text, ())
async def calm(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    desk: DeskPolicy,
    message_id: int,
) -> list[Outbound]:
    text = clean_input(event.text)
    if not text:
        return UNHANDLED
    signal = upset(text, await _recent(tx, event, message_id))
    if not signal.upset:
        return UNHANDLED  # the FAQ answers it
    tc = t.with_lang("en") if language_of(text) == "english" else t
    buttons = [
        [Button(tc("mood.complaint"), "menu:complaint"), Button(tc("mood.advisor"), "menu:advisor")]
    ]
    outs = [Outbound(tc("mood.calm"), buttons=buttons, ref=UPSET)]
    ticket = await _open_ticket(tx, client)
    raised = ticket is not None and await _raise(tx, desk, ticket)
    told = await _tell_staff(tx, desk, t, event, client, text, ticket)
    await tx.audit.log(
        event.sender, "mood.upset", client_id=client.id, message_id=message_id,
        score=signal.score, reasons=list(signal.reasons),
        ticket=ticket.number if ticket else None, raised=raised, told=bool(told),
    )  # fmt: skip
    return outs + told


async def _open_ticket(tx: Tx, client: Client) -> Ticket | None:
    """The client's most recent ticket still being handled."""
    return next((k for k in await tx.tickets.of_client(client.id) if k.active), None)


async def _raise(tx: Tx, desk: DeskPolicy, ticket: Ticket) -> bool:
    """The ticket is due as a VIP's is (the desk's lists and SLA alerts go by when it is
    due): no new column, and a VIP's ticket, already due soonest, stays where it is."""
    due = tx.now() + timedelta(minutes=desk.sla_minutes[(ticket.kind, True)])
    if due >= ticket.due_at:
        return False
    await tx.tickets.update(ticket.id, due_at=due)
    return True


async def _tell_staff(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    event: Inbound,
    client: Client,
    text: str,
    ticket: Ticket | None,
) -> list[Outbound]:
    """The staff chat (and the advisor holding the ticket) hear of an upset client once an
    hour; with neither, the admins."""
    since = tx.now() - TELL_EVERY
    # The last few hundred notices cover an hour by far; a client told about twice in an
    # unusually busy hour is the worst that can happen.
    for row in await tx.audit.recent("mood.upset", limit=300):
        if row["at"] < since:
            break
        if row["detail"].get("client_id") == client.id and row["detail"].get("told"):
            return []
    targets = [x for x in (desk.staff_chat, ticket.advisor if ticket else None) if x]
    outs = []
    fresh = await tx.tickets.get(ticket.id) if ticket else None
    for target in dict.fromkeys(targets or desk.admins):
        tt = await translator_for(tx, t, target)
        about = (
            tt("mood.staff_ticket", label=Markup(label(tt, fresh)), due=desk.local(fresh.due_at))
            if fresh
            else ""
        )
        body = tt(
            "mood.staff_upset",
            name=client.display_name or event.chat,
            chat=event.chat,
            text=text[:500],
            ticket=Markup(about),
        )
        outs.append(Outbound(body, chat=target, priority=5))
    return outs
