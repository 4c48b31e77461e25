"""Outgoing 微信客服 messages: the welcome with its one-time code (kept in the database by
whichever process read the event, taken once); anything else inside WeCom's window (5
messages within 48 hours of the client's last message), tracked in the database like the
official account's; outside it the message is recorded as not deliverable on this route
(the planner then looks for another)."""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.wechat.sender import plain_text, settle_window
from bot.channels.wecom.api import ApiError, NoAnswer, Unreachable, WecomApi
from bot.channels.wecom.convert import CHANNEL, ENDED
from bot.core.delivery import Limits, OutMessage, SendFailure
from bot.core.text import to_plain
from bot.core.types import KNOWN_CAPABILITIES, Capabilities
from storage.database import Database

log = logging.getLogger(__name__)

OUT_OF_WINDOW = frozenset({95001, 95002})  # five used / 48 hours passed
MENU_ITEMS = 10  # a menu message's items
MENU_EDGE_BYTES = 1024  # its head and tail
WITH_A_PERSON = 95018  # the session is queued for or served by a person in WeCom
BUSY = frozenset({-1, 45009, 45033})


class WecomSender:
    channel = CHANNEL
    capabilities: Capabilities = KNOWN_CAPABILITIES[CHANNEL]

    def __init__(self, api: WecomApi, db: Database, *, limits: Limits):
        self.api = api
        self.db = db
        self.limits = limits

    def is_group(self, chat: str) -> bool:
        return False

    async def send(self, message: OutMessage) -> str | None:
        user = message.chat.split(":", 1)[1]
        text = plain_text(message)
        menu = menu_of(message, text)
        if message.ends_session:
            ended = await self._hand_back(message.chat, user, text, menu)
            if ended is not None:
                return ended
        try:  # the welcome code if there is one (bulk never uses it), else the window
            async with self.db.write() as tx:
                code = None if message.bulk else await tx.wecom_kf.take(message.chat)
                in_window = code is None and await tx.wechat.use_window(message.chat)
        except Exception as exc:  # the database, not WeCom: nothing was sent
            raise SendFailure("retry", f"window not read: {exc}") from None
        if code is not None:
            try:
                answer = await self.api.send_on_event(code, text, menu)
                return str(answer.get("msgid") or "welcome")
            except ApiError as exc:  # the code ran out: the window may still take it
                log.info("wecom: welcome code refused (%s); sending normally", exc.code)
            except (Unreachable, NoAnswer) as exc:
                raise _failure(exc) from None
            try:
                async with self.db.write() as tx:
                    in_window = await tx.wechat.use_window(message.chat)
            except Exception as exc:
                raise SendFailure("retry", f"window not read: {exc}") from None
        if not in_window:
            raise SendFailure("rejected", "wecom: outside the client's 48-hour window")
        try:
            answer = await self.api.send_text(user, text, menu)
        except (ApiError, Unreachable, NoAnswer) as exc:
            code_ = exc.code if isinstance(exc, ApiError) else None
            if code_ in OUT_OF_WINDOW:
                await self._settle(message.chat, close=True)
            elif not isinstance(exc, NoAnswer):  # it may have arrived: the count stays
                await self._settle(message.chat, close=False)
            raise _failure(exc) from None
        return str(answer.get("msgid") or "kf")

    async def _hand_back(
        self, chat: str, user: str, text: str, menu: dict[str, Any] | None
    ) -> str | None:
        """A conversation with a person ended (a resolved ticket) while a servicer holds the
        session in the WeCom app: end it, so the bot serves the client again, and send the
        message as its closing words with the code ending gives. None: send it as usual."""
        async with self.db.read() as tx:
            if await tx.wecom_sessions.held(chat) is None:
                return None
        try:
            code = await self.api.end_session(user)
        except ApiError as exc:  # no longer held (taken back, ended in the app): as usual
            log.info("wecom: the session of %s was not ended: %s", chat, exc)
            return None
        except (Unreachable, NoAnswer) as exc:
            raise _failure(exc) from None
        async with self.db.write() as tx:
            await tx.wecom_sessions.set(chat, ENDED)
        if code is None:
            return None
        try:
            answer = await self.api.send_on_event(code, text, menu)
        except (ApiError, Unreachable, NoAnswer) as exc:
            raise _failure(exc) from None
        return str(answer.get("msgid") or "closing")

    async def _settle(self, chat: str, *, close: bool) -> None:
        await settle_window(self.db, chat, close=close)


def menu_of(message: OutMessage, text: str) -> dict[str, Any] | None:
    """The options as a WeCom menu message, where they fit: up to 10 of them, the text and
    the hint within the menu's 1,024 bytes. A tap sends the option's label, and a typed
    number still works, as on every channel without buttons; otherwise plain numbered text.
    `text` ends with the numbered options the engine added (`with_options`)."""
    options = [b for row in message.buttons for b in row]
    if not options or len(options) > MENU_ITEMS or any(not b.data or b.url for b in options):
        return None
    head, sep, block = text.rpartition("\n\n")
    lines = block.split("\n")
    if not sep or len(lines) != len(options) + 1 or not lines[0].startswith("1. "):
        return None
    tail = lines[-1]
    if len(head.encode()) > MENU_EDGE_BYTES or len(tail.encode()) > MENU_EDGE_BYTES:
        return None
    items = [
        {"type": "click", "click": {"id": (b.data or "")[:128], "content": to_plain(b.label)}}
        for b in options
    ]
    return {"head_content": head, "list": items, "tail_content": tail}


def _failure(exc: ApiError | Unreachable | NoAnswer) -> SendFailure:
    if isinstance(exc, Unreachable):
        return SendFailure("retry", str(exc))
    if isinstance(exc, NoAnswer):
        return SendFailure("ambiguous", str(exc))
    if exc.code in OUT_OF_WINDOW:
        return SendFailure("rejected", f"wecom {exc.code}: outside the window")
    if exc.code == WITH_A_PERSON:
        return SendFailure("rejected", f"wecom {exc.code}: the session is with a person")
    if exc.code in BUSY:
        return SendFailure("retry", f"wecom {exc.code}: {exc.message}")
    return SendFailure("rejected", f"wecom {exc.code}: {exc.message}")
