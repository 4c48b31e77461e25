"""Reply delivery through the archive: rows are written in the handler's transaction, then sent.

A row is claimed (`pending -> sending`) before the platform call, so a crash mid-call leaves
it `sending`, which recovery turns into `ambiguous` instead of sending it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

from bot.core.i18n import Translator
from bot.core.numbered import numbered_menu
from bot.core.text import split_text
from bot.core.types import Button, Capabilities, Outbound
from storage.database import Database
from storage.records import StoredMessage
from storage.tx import Tx

log = logging.getLogger(__name__)


class SendFailure(Exception):
    """A platform refused or failed a send. `reason` decides what happens to the row:
    retry (transient, maybe after `retry_after`), blocked (the person blocked us),
    rejected (the platform will never take it), ambiguous (it may have arrived)."""

    def __init__(self, reason: str, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


class Sender(Protocol):
    channel: str
    capabilities: Capabilities

    async def pace(self) -> None:
        """Wait until the platform's rate limit lets one more message go (before the row is
        claimed, so waiting never leaves a row `sending`)."""

    async def send(
        self, chat: str, text: str, buttons: list[list[Button]], *, edit: str | None
    ) -> str | None:
        """Deliver one message; return the platform's message id. Raise SendFailure."""


FINAL = {"blocked": "blocked", "rejected": "failed", "ambiguous": "ambiguous"}


class Delivery:
    """Sends outbox rows. Transient failures wait (429's retry_after, else backoff) and are
    tried again by the sweep; a row is given up as `failed` only after `give_up_after`."""

    def __init__(
        self,
        db: Database,
        *,
        inline_tries: int = 3,
        max_wait: float = 30,
        max_backoff: float = 600,
        give_up_after: timedelta = timedelta(days=2),
    ) -> None:
        self.db = db
        self.senders: dict[str, Sender] = {}
        self.inline_tries = inline_tries
        self.max_wait = max_wait
        self.max_backoff = max_backoff
        self.give_up_after = give_up_after

    def register(self, sender: Sender) -> None:
        self.senders[sender.channel] = sender

    def capabilities(self, channel: str) -> Capabilities:
        sender = self.senders.get(channel)
        return sender.capabilities if sender else Capabilities()

    async def enqueue(
        self,
        tx: Tx,
        outs: Iterable[Outbound],
        *,
        chat: str,
        client_id: int | None = None,
        reply_to: int | None = None,
        ref_id: str | None = None,
        t: Translator | None = None,
    ) -> list[int]:
        """Write outbound rows (split to the channel's size limit) in the caller's transaction.

        On channels without buttons the options are appended as a numbered list (needs `t`).
        """
        ids: list[int] = []
        for out in outs:
            target = out.chat or chat
            channel = target.split(":", 1)[0]
            caps = self.capabilities(channel)
            text = out.text
            if out.buttons and not caps.buttons and t is not None:
                text = f"{text}\n\n{numbered_menu(out.buttons, t)}"
            parts = split_text(text, caps.max_text)
            for i, part in enumerate(parts):
                payload: dict[str, Any] = out.payload()
                if i < len(parts) - 1:
                    payload["buttons"] = []  # buttons ride on the last part
                payload["edit"] = (
                    ref_id if out.replace and len(parts) == 1 and target == chat else None
                )
                ids.append(
                    await tx.messages.add_outbound(
                        channel=channel,
                        chat=target,
                        text=part,
                        payload=payload,
                        client_id=client_id if target == chat else None,
                        reply_to=reply_to,
                    )
                )
        return ids

    async def flush(self, ids: Iterable[int]) -> None:
        for message_id in ids:
            await self.send_one(message_id)

    async def send_one(self, message_id: int) -> str:
        """Try to send one pending row now; returns its resulting status.

        Between tries the row goes back to `pending`, so a process that dies while waiting
        out a 429 leaves it for the next start to send, not an `ambiguous` row.
        """
        async with self.db.read() as tx:
            row = await tx.messages.get(message_id)
        if row is None or row.status != "pending" or row.channel not in self.senders:
            return row.status if row else "missing"
        sender = self.senders[row.channel]
        status = "pending"
        for attempt in range(1, self.inline_tries + 1):
            await sender.pace()
            claimed = await self._claim(message_id)
            if claimed is None:  # another deliverer took it
                return status
            status, wait = await self._attempt(claimed)
            if status != "pending" or wait > self.max_wait:
                return status
            if attempt < self.inline_tries:
                log.info("send %s failed for now; retrying in %.1fs", message_id, wait)
                await asyncio.sleep(wait)
        return status

    async def _claim(self, message_id: int) -> StoredMessage | None:
        """pending -> sending, as a compare-and-set: of two deliverers only one wins."""
        async with self.db.write() as tx:
            row = await tx.messages.get(message_id)
            if row is None or row.status != "pending" or row.channel not in self.senders:
                return None
            if not await tx.messages.set_status(message_id, "sending", expect="pending"):
                return None
            return row

    async def _attempt(self, row: StoredMessage) -> tuple[str, float]:
        """One platform call; (new status, seconds to wait before trying again)."""
        sender = self.senders[row.channel]
        buttons = Outbound.buttons_from_payload(row.payload)
        try:
            platform_id = await sender.send(
                row.chat, row.text or "", buttons, edit=row.payload.get("edit")
            )
        except SendFailure as failure:
            if failure.reason != "retry":
                return await self._finish(row.id, FINAL[failure.reason], str(failure)), 0.0
            wait = failure.retry_after or min(0.5 * 2**row.attempts, self.max_backoff)
            return await self._release(row, wait, str(failure)), wait
        except Exception as exc:  # a bug in a sender must not take the bot down
            log.exception("send %s crashed", row.id)
            return await self._finish(row.id, "failed", repr(exc)[:500]), 0.0
        return await self._finish(row.id, "sent", None, platform_id), 0.0

    async def _finish(
        self, message_id: int, status: str, error: str | None, platform_id: str | None = None
    ) -> str:
        async with self.db.write() as tx:
            await tx.messages.set_status(message_id, status, error=error, platform_id=platform_id)
        if status != "sent":
            log.warning("message %s %s: %s", message_id, status, error)
        return status

    async def _release(self, row: StoredMessage, wait: float, error: str) -> str:
        """Give a transiently failing row back, not to be tried for `wait` seconds; after
        `give_up_after` it is `failed` (a staff report shows those)."""
        async with self.db.write() as tx:
            now = tx.now()
            if now - row.created_at > self.give_up_after:
                await tx.messages.set_status(row.id, "failed", error=error)
                log.error("message %s failed for good: %s", row.id, error)
                return "failed"
            await tx.messages.set_status(
                row.id, "pending", error=error, not_before=now + timedelta(seconds=wait)
            )
        return "pending"

    async def recover(self) -> int:
        """At start: rows left `sending` by a crash become `ambiguous` (never sent twice)."""
        async with self.db.write() as tx:
            return await tx.messages.mark_stale_sending(tx.now() + timedelta(seconds=1))

    async def sweep(self) -> int:
        """Send every pending row of the channels we serve; returns how many were tried."""
        async with self.db.read() as tx:
            now = tx.now()
            rows = [
                r
                for channel in self.senders
                for r in await tx.messages.with_status("out", "pending", channel=channel, due=now)
            ]
        await self.flush(sorted(r.id for r in rows))
        return len(rows)
