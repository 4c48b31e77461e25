"""Reading what clients sent to 微信客服. WeCom's callback only says "there is something" (with
a token good for 10 minutes); the messages are pulled with `kf/sync_msg` from a cursor kept
in the database, so a restart neither loses nor repeats one. Each page is recorded (deduped
by msgid) before the cursor moves on, and handled after: a crash in between leaves recorded,
unhandled messages, which the inbox takes over at the next start."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.channels.wecom.api import WecomApi
from bot.channels.wecom.convert import (
    ENDED,
    HUMAN,
    NEW,
    opens_window,
    session_change,
    to_inbound,
    welcome_code,
)
from bot.core.inbox import Inbox
from bot.core.types import Inbound
from storage.database import Database

log = logging.getLogger(__name__)

PAGES_PER_PULL = 50  # 1,000 messages a page: a backlog is read on the next pull
WELCOME_SECONDS = 18.0  # WeCom's welcome code lasts 20 seconds


@dataclass(frozen=True, slots=True)
class Window:
    span: timedelta = timedelta(hours=48)
    messages: int = 5


class WelcomeCodes:
    """Welcome codes by chat, taken once by the sender within their 20 seconds."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._codes: dict[str, tuple[str, float]] = {}

    def put(self, chat: str, code: str) -> None:
        now = self.clock()
        self._codes = {c: v for c, v in self._codes.items() if v[1] > now}
        self._codes[chat] = (code, now + WELCOME_SECONDS)

    def take(self, chat: str) -> str | None:
        found = self._codes.pop(chat, None)
        return found[0] if found and found[1] > self.clock() else None


class KfSync:
    def __init__(
        self,
        api: WecomApi,
        db: Database,
        inbox: Inbox,
        codes: WelcomeCodes,
        window: Window = Window(),
    ) -> None:
        self.api = api
        self.db = db
        self.inbox = inbox
        self.codes = codes
        self.window = window
        self.cursor_key = f"wecom.kf.cursor.{api.kf_id}"
        self._lock = asyncio.Lock()  # one pull at a time: the cursor moves in order

    async def pull(self, token: str | None = None) -> int:
        """Read, record and hand over everything new; returns the messages recorded."""
        async with self._lock:
            async with self.db.read() as tx:
                cursor = await tx.meta.get(self.cursor_key)
            recorded = 0
            for _ in range(PAGES_PER_PULL):
                page = await self.api.sync_msg(cursor, token)
                messages = [m for m in page.get("msg_list") or [] if isinstance(m, dict)]
                recorded += await self._take(messages)
                cursor = str(page.get("next_cursor") or cursor or "")
                async with self.db.write() as tx:  # after the page is recorded, not before
                    await tx.meta.set(self.cursor_key, cursor)
                if not page.get("has_more"):
                    break
            return recorded

    async def _take(self, messages: list[dict[str, Any]]) -> int:
        items = [(event, msg) for msg in messages if (event := to_inbound(msg)) is not None]
        changed = await self._sessions(messages, items)
        if not items:
            return 0
        ids = await self.inbox.record_many(items)
        opened = [event.chat for event, msg in items if opens_window(msg)]
        if opened or changed:
            async with self.db.write() as tx:
                for chat in dict.fromkeys(opened):
                    await tx.wechat.open_window(chat, self.window.span, self.window.messages)
                for chat, (state, servicer) in changed.items():
                    await tx.wecom_sessions.set(chat, state, servicer)
        fresh = 0
        for (event, msg), message_id in zip(items, ids, strict=True):
            if isinstance(message_id, Exception):
                raise message_id  # not recorded: the cursor stays, the page comes again
            if message_id is None:
                continue  # read before (a repeated page): handled then
            if (code := welcome_code(msg)) is not None:
                self.codes.put(event.chat, code)
            self.inbox.submit(message_id, event)
            fresh += 1
        return fresh

    async def _sessions(
        self, messages: list[dict[str, Any]], items: list[tuple[Inbound, dict[str, Any]]]
    ) -> dict[str, tuple[int, str | None]]:
        """Follow who holds each session through the page, in order. What a client writes
        while a servicer holds the session is the servicer's to answer in the WeCom app: it
        is archived, not answered by the bot. A client writing after a session ended starts
        a new one, the bot's. Returns the states to record."""
        changes = [c for msg in messages if (c := session_change(msg)) is not None]
        async with self.db.read() as tx:
            current = await tx.wecom_sessions.states(
                [c[0] for c in changes] + [e.chat for e, m in items if opens_window(m)]
            )
        if not current and not changes:
            return {}
        changed: dict[str, tuple[int, str | None]] = {}
        events = {id(msg): event for event, msg in items}
        for msg in messages:
            if (change := session_change(msg)) is not None:
                chat, state, servicer = change
                current[chat] = changed[chat] = (state, servicer)
                continue
            event = events.get(id(msg))
            if event is None or not opens_window(msg) or event.chat not in current:
                continue
            state, _ = current[event.chat]
            if state == HUMAN:
                event.kind = "other"  # kept with the chat; the servicer answers
            elif state == ENDED:
                current[event.chat] = changed[event.chat] = (NEW, None)
        return changed
