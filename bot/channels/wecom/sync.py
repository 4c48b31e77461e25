"""Reading what clients sent to 微信客服. WeCom's callback only says "there is something" (with
a token good for 10 minutes); the messages are pulled with `kf/sync_msg` from a cursor kept
in the database, so a restart neither loses nor repeats one. Each page is recorded (deduped
by msgid) before the cursor moves on, and handled after: a crash in between leaves recorded,
unhandled messages, which the inbox takes over at the next start.

Several processes may pull at once (each got a callback). The cursor is opaque, so it cannot
be compared; instead each process moves it only from the value it read (`meta.swap`), so the
stored cursor never goes back and never passes a message nobody recorded. A process that
loses the swap carries on from the stored cursor: what it re-reads is at most the pages read
meanwhile, and the msgid dedupe absorbs them. An enter_session's welcome code goes to the
database (`tx.wecom_kf`), since another process may send the greeting."""

from __future__ import annotations

import asyncio
import logging
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
WELCOME = timedelta(seconds=18)  # WeCom's welcome code lasts 20 seconds: 2 to spare


@dataclass(frozen=True, slots=True)
class Window:
    span: timedelta = timedelta(hours=48)
    messages: int = 5


class KfSync:
    def __init__(
        self,
        api: WecomApi,
        db: Database,
        inbox: Inbox,
        window: Window = Window(),
    ) -> None:
        self.api = api
        self.db = db
        self.inbox = inbox
        self.window = window
        self.cursor_key = f"wecom.kf.cursor.{api.kf_id}"
        self._lock = asyncio.Lock()  # one pull at a time in this process

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
                moved = str(page.get("next_cursor") or cursor or "")
                async with self.db.write() as tx:  # after the page is recorded, not before
                    if moved == cursor or await tx.meta.swap(self.cursor_key, cursor, moved):
                        cursor = moved
                    else:  # another process moved it meanwhile: on from there
                        cursor = await tx.meta.get(self.cursor_key)
                        log.info("wecom: another process read on; reading from its cursor")
                if not page.get("has_more"):
                    break
            return recorded

    async def _take(self, messages: list[dict[str, Any]]) -> int:
        items = [(event, msg) for msg in messages if (event := to_inbound(msg)) is not None]
        changed = await self._sessions(messages, items)
        ids = await self.inbox.record_many(items) if items else []
        fresh = []
        for item, message_id in zip(items, ids, strict=True):
            if isinstance(message_id, Exception):
                raise message_id  # not recorded: the cursor stays, the page comes again
            if message_id is not None:  # None: read before (a repeated page), handled then
                fresh.append((message_id, *item))
        opened = [event.chat for event, msg in items if opens_window(msg)]
        codes = [(e.chat, code) for _, e, msg in fresh if (code := welcome_code(msg)) is not None]
        if opened or codes or changed:  # before handling: the reply may leave elsewhere
            async with self.db.write() as tx:
                for chat in dict.fromkeys(opened):
                    await tx.wechat.open_window(chat, self.window.span, self.window.messages)
                for chat, code in codes:
                    await tx.wecom_kf.put(chat, code, tx.now() + WELCOME)
                for chat, (state, servicer) in changed.items():
                    await tx.wecom_sessions.set(chat, state, servicer)
        for message_id, event, _ in fresh:
            self.inbox.submit(message_id, event)
        return len(fresh)

    async def _sessions(
        self, messages: list[dict[str, Any]], items: list[tuple[Inbound, dict[str, Any]]]
    ) -> dict[str, tuple[int, str | None]]:
        """Follow who holds each session through the page, in order. What a client writes
        while a servicer holds the session is the servicer's to answer in the WeCom app: it
        is archived, not answered by the bot. A client writing after a session ended starts
        a new one, the bot's. Returns the states to record."""
        changes = [session_change(msg) for msg in messages]
        chats = [c[0] for c in changes if c] + [e.chat for e, m in items if opens_window(m)]
        if not chats:  # nothing a session state decides: no read at all
            return {}
        async with self.db.read() as tx:
            current = await tx.wecom_sessions.states(chats)
        if not current and not any(changes):
            return {}
        changed: dict[str, tuple[int, str | None]] = {}
        events = {id(msg): event for event, msg in items}
        for msg, change in zip(messages, changes, strict=True):
            if change is not None:
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
