"""The inbox: record every inbound event first, then handle it exactly once.

`receive` archives the event (deduplicated on the platform's delivery id) and only then
handles it. Handling runs in one transaction that also stores the replies and marks the
event handled, so a crash before commit leaves it `received` for `recover` to redo, and a
crash after commit leaves replies `pending` for the delivery sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.core.delivery import Delivery
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import Translator
from bot.core.middlewares import Policy
from bot.core.types import Inbound, Outbound
from storage.database import Database

log = logging.getLogger(__name__)


class _Raced(Exception):
    """Another worker handled the event first."""


class Inbox:
    def __init__(
        self,
        db: Database,
        dispatcher: Dispatcher,
        delivery: Delivery,
        *,
        policy: Policy,
        translator: Translator,
        services: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.delivery = delivery
        self.policy = policy
        self.services = dict(services or {})  # injected into handlers by parameter name
        self.translator = translator.with_lang(policy.default_language)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: dict[str, int] = defaultdict(int)

    async def receive(self, event: Inbound) -> int | None:
        """Record, then handle. Returns the archive id, or None for a redelivery."""
        message_id = await self.record(event)
        if message_id is None:
            log.info("dropped redelivery %s", event.dedupe_key)
            return None
        await self.handle(message_id, event)
        return message_id

    async def record(self, event: Inbound, raw: dict[str, Any] | None = None) -> int | None:
        """Archive the event (and the platform's own form of it); None for a redelivery."""
        payload = event.payload()
        if raw is not None:
            payload["raw"] = raw
        async with self.db.write() as tx:
            return await tx.messages.record_inbound(
                channel=event.channel,
                chat=event.chat,
                sender=event.sender,
                kind=event.kind,
                text=event.callback_data if event.kind == "callback" else event.text,
                payload=payload,
                dedupe_key=event.dedupe_key,
                platform_id=event.platform_id,
            )

    async def handle(self, message_id: int, event: Inbound) -> None:
        async with self._chat_lock(event.chat):
            try:
                ids = await self._dispatch(message_id, event)
            except _Raced:
                return
            except Exception as exc:
                log.exception("handling message %s failed", message_id)
                ids = await self._apologise(message_id, event, exc)
            await self.delivery.flush(ids)

    async def _dispatch(self, message_id: int, event: Inbound) -> list[int]:
        async with self.db.write() as tx:
            ctx: dict[str, Any] = {
                **self.services,
                "event": event,
                "tx": tx,
                "policy": self.policy,
                "t": self.translator,
                "message_id": message_id,
                "capabilities": self.delivery.capabilities(event.channel),
            }
            # Edits, joins and other platform events are archived but need no answer.
            outs = [] if event.kind == "other" else await self.dispatcher.dispatch(event, ctx)
            client = ctx.get("client")
            now = await tx.clients.get(client.id) if client else None  # after the handler
            erased = now is not None and now.erased_at is not None
            client_id = now.id if now is not None and not erased else None
            t = ctx["t"].with_lang(now.language) if now is not None else ctx["t"]
            ids = await self.delivery.enqueue(
                tx,
                outs,
                chat=event.chat,
                client_id=client_id,
                reply_to=message_id,
                ref_id=event.ref_id,
                t=t,  # /lang just changed it? the numbered hint follows
            )
            done = await tx.messages.set_status(
                message_id, "handled", expect="received", client_id=client_id
            )
            if erased:  # the erasure's own exchange is kept locked like the rest
                await tx.messages.lock([message_id, *ids])
            if not done:
                raise _Raced
            return ids

    async def _apologise(self, message_id: int, event: Inbound, exc: Exception) -> list[int]:
        """The event stays archived as `failed` (for staff to see) and the person is told."""
        async with self.db.write() as tx:
            await tx.messages.set_status(message_id, "failed", error=repr(exc)[:1000])
            client = await tx.clients.by_address(event.sender)
            t = self.translator.with_lang(client.language) if client else self.translator
            return await self.delivery.enqueue(
                tx, [Outbound(t("errors.internal"))], chat=event.chat, reply_to=message_id, t=t
            )

    async def recover(self) -> int:
        """Handle events recorded before a crash but never handled; oldest first."""
        async with self.db.read() as tx:
            rows = await tx.messages.with_status("in", "received")
        for row in rows:
            await self.handle(row.id, Inbound.from_payload(row.payload))
        if rows:
            log.info("recovered %d unhandled message(s)", len(rows))
        return len(rows)

    @asynccontextmanager
    async def _chat_lock(self, chat: str) -> AsyncIterator[None]:
        """One event per chat at a time, so replies keep order and state stays consistent."""
        self._users[chat] += 1
        try:
            async with self._locks[chat]:
                yield
        finally:
            self._users[chat] -= 1
            if not self._users[chat]:
                del self._users[chat], self._locks[chat]
