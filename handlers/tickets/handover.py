"""Where the bot hands a client's words to a person, by routing rather than by being called:
the FAQ's "ask a person" button opens a consultation, and a client answering one of the desk's
relayed messages with the platform's reply feature is back in that ticket's conversation.

Included just before the FAQ: both routes come after every feature had its turn (tier FALLBACK
for the quote, and the FAQ declines its own "ask a person" press)."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Translator
from bot.core.router import UNHANDLED, Router, Tier
from bot.core.text import clean_input
from bot.core.types import Inbound, Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.handoff import TO_PERSON
from handlers.shared.menus import main_menu
from handlers.tickets.workflow import consultation, quoted_ticket, resume_talk
from storage.records import Client
from storage.tx import Tx

router = Router("tickets.handover")


@router.callback(TO_PERSON)
async def ask_a_person(
    event: Inbound, tx: Tx, client: Client, t: Translator, data: str, desk: DeskPolicy
) -> Outbound | list[Outbound]:
    """The unanswered question (`data` is its record) becomes a consultation ticket, once."""
    if not (data.isdigit() and len(data) < 10):
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    if event.chat != event.sender:  # a consultation is a private matter
        return Outbound(t("errors.private_only"))
    filed = await tx.tickets.by_unanswered(int(data))
    if filed is not None and filed.client_id == client.id:
        return Outbound(t("ticket.already_filed", number=filed.number), buttons=main_menu(t))
    record = await tx.faq.hand_off(int(data), chat=event.chat)
    if record is None:
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    await tx.audit.log(event.sender, "faq.handoff", unanswered=record.id, client_id=client.id)
    return await consultation(tx, desk, t, event, client, record.text, record.id)


def _by_sms(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    return {} if event.kind == "text" and event.channel == "sms" else None


@router.add(Tier.FALLBACK, _by_sms, ())
async def texted(
    event: Inbound, tx: Tx, client: Client, t: Translator, desk: DeskPolicy
) -> list[Outbound]:
    """A text by SMS that nothing else claimed goes to a person, never to the FAQ: every
    answer by SMS costs money, so the bot texts back only for commands and tickets (the
    acknowledgement, without the menu a text cannot show)."""
    text = clean_input(event.text)
    if not text:
        return []
    outs = await consultation(tx, desk, t, event, client, text)
    for out in outs:
        if out.chat in (None, event.chat):
            out.buttons = []
    return outs


def _quoting(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    """Text sent as a reply to an earlier message; anything else costs nothing here."""
    return {} if event.kind == "text" and event.reply_to else None


@router.add(Tier.FALLBACK, _quoting, ())
async def quoted(
    event: Inbound, tx: Tx, client: Client, t: Translator, desk: DeskPolicy, message_id: int
) -> list[Outbound]:
    """The client quoted a relayed message of their own open ticket: to the desk; any other
    quote is not ours (the FAQ answers it)."""
    text = clean_input(event.text)
    ticket = await quoted_ticket(tx, event, client) if text else None
    if ticket is None:
        return UNHANDLED
    return await resume_talk(tx, desk, t, ticket, client, text=text, message_id=message_id)
