"""What a staff member does on a page that changes anything goes through the bot as an event
of theirs, exactly as if typed or pressed in a chat: `/reply`, `/resolve`, a desk button.
The same handlers answer with the same role checks and rules; the answers are the outbox
rows to their console chat, which the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.core.commands import text_event
from bot.core.text import to_plain
from bot.core.types import Button, Inbound, Outbound
from bot.web.console import CHANNEL
from bot.web.guard import APP, Visitor

MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer as a page shows it: plain text (escaped by the template) and buttons."""

    text: str
    buttons: list[Button]


async def act(
    request: web.Request,
    who: Visitor,
    *,
    text: str | None = None,
    callback: str | None = None,
    nonce: str | None = None,
) -> int | None:
    """Do it as `who`: the archived event's id (its answers are `answers_to` it), or None
    when this very form was sent before (`nonce`: a double click, a reload)."""
    chat, sender = who.chat, who.account.address
    key = f"{CHANNEL}:{who.account.name}:{nonce[:64]}" if nonce else None
    event: Inbound
    if callback is not None:
        event = Inbound(
            CHANNEL, chat, sender, kind="callback", callback_data=callback[:64], dedupe_key=key
        )
    else:
        event = text_event(CHANNEL, chat, sender, (text or "")[:MAX_TEXT], dedupe_key=key)
    receipt = await request.config_dict[APP].inbox.receive(event)
    return receipt[0] if receipt is not None else None


async def answers_to(request: web.Request, who: Visitor, done: str | None) -> list[Answer]:
    """The bot's answers to one of `who`'s own events (`?done=ID` after a form)."""
    if not done or not done.isdigit() or len(done) > 12:
        return []
    async with request.config_dict[APP].db.read() as tx:
        rows = await tx.messages.for_chat(who.chat, limit=50)
    return [answer(r.text or "", r.payload) for r in rows if r.reply_to == int(done)]


def answer(text: str, payload: dict[str, Any]) -> Answer:
    buttons = [b for row in Outbound.buttons_from_payload(payload) for b in row if b.data]
    return Answer(to_plain(text), buttons)
