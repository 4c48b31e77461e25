"""The official account's webhook: the GET handshake, and pushed messages in plain or safe
mode. Each message is recorded before anything is answered; WeChat's retries of it are
answered "success" and handled once. The answer goes back in the HTTP response when it is
ready well inside WeChat's 5 seconds, else through the customer-service API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.channels.wechat import xml
from bot.channels.wechat.convert import (
    address,
    dedupe_key,
    is_mass_report,
    opens_window,
    to_inbound,
)
from bot.channels.wechat.crypto import Envelope, Guard, Refused
from bot.channels.wechat.passive import PassiveReplies, Slot
from bot.core.batching import Batcher
from bot.core.delivery import Delivery
from bot.core.inbox import Inbox
from bot.core.types import normalize_address
from storage.database import Database

log = logging.getLogger(__name__)

BODY_TIMEOUT = 5.0
SUCCESS = "success"  # WeChat's "received, nothing to say"


@dataclass(frozen=True, slots=True)
class Windows:
    """WeChat's customer-service windows (see WechatRepo.open_window)."""

    message_span: timedelta = timedelta(hours=48)
    message_count: int = 5
    event_span: timedelta = timedelta(minutes=1)
    event_count: int = 3


class WechatWebhook:
    def __init__(
        self,
        *,
        inbox: Inbox,
        delivery: Delivery,
        db: Database,
        guard: Guard,
        envelope: Envelope | None,
        passive: PassiveReplies,
        passive_seconds: float,
        windows: Windows = Windows(),
    ) -> None:
        self.inbox = inbox
        self.delivery = delivery
        self.db = db
        self.guard = guard
        self.envelope = envelope
        self.passive = passive
        self.passive_seconds = passive_seconds
        self.windows = windows
        # Concurrent requests share one transaction for their windows.
        self._windows: Batcher[tuple[str, str], None] = Batcher(self._write_windows)

    def routes(self, path: str) -> list[web.RouteDef]:
        return [web.get(path, self.verify), web.post(path, self.receive)]

    async def verify(self, request: web.Request) -> web.Response:
        """The handshake when the URL is saved in the official account's settings."""
        q = request.query
        try:
            self.guard.check(q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", ""))
        except Refused as exc:
            log.warning("wechat: handshake refused (%s) from %s", exc.why, request.remote)
            return web.Response(status=exc.status, text=exc.why)
        return web.Response(text=q.get("echostr", "")[:200])

    async def receive(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            fields, nonce = await self._read(request)
            event = to_inbound(fields)
        except Refused as exc:
            log.warning("wechat: message refused (%s) from %s", exc.why, request.remote)
            return web.Response(status=exc.status, text=exc.why)
        try:
            message_id = await self.inbox.record(event, fields)
        except Exception:  # not recorded: WeChat asks again, up to twice
            log.exception("wechat: could not record %s; WeChat will retry", event.dedupe_key)
            return web.Response(status=503, text="not recorded")
        if message_id is None:
            return web.Response(text=SUCCESS)  # a retry: the first receipt is being answered
        if is_mass_report(fields):
            await self._mass_report(fields)
        opened = opens_window(fields)
        openid = fields["FromUserName"]
        # A slot only for what can be answered: an event with nothing to say must not catch
        # the second part of an earlier answer and then reply "success".
        wants = opened is not None and self.passive_seconds > 0
        slot = self.passive.open(openid) if wants else None
        done = self.inbox.submit(message_id, event)  # recorded: it is handled whatever follows
        if opened is not None:
            try:
                await self._windows.submit((event.chat, opened))
            except Exception:  # the answer can still go passively; later ones may fail
                log.exception("wechat: could not open the window for %s", event.chat)
        if slot is None:
            return web.Response(text=SUCCESS)
        try:
            text = await self._answer(slot, done, started + self.passive_seconds)
        finally:
            self.passive.close(slot)
        if text is None:
            return web.Response(text=SUCCESS)
        reply = xml.text_reply(openid, fields.get("ToUserName", ""), text, int(time.time()))
        if self.envelope is not None:
            reply = self.envelope.seal(reply, nonce=nonce)
        return web.Response(text=reply, content_type="application/xml")

    async def _read(self, request: web.Request) -> tuple[dict[str, str], str]:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        self.guard.check(q.get("signature", ""), timestamp, nonce)
        if request.content_length is not None and request.content_length > xml.MAX_BODY:
            raise Refused(413, "body too large")
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await request.read()  # the whole body (the server caps its size)
        except TimeoutError:
            raise Refused(408, "body too slow") from None
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, "body too large") from None
        fields = xml.read(body)
        if self.envelope is not None:
            if q.get("encrypt_type", "").lower() != "aes" or not fields.get("Encrypt"):
                raise Refused(400, "safe mode: the message must be encrypted")
            self.guard.check(q.get("msg_signature", ""), timestamp, nonce, fields["Encrypt"])
            fields = xml.read(self.envelope.open(fields["Encrypt"]))
        openid = fields.get("FromUserName", "")
        try:
            if normalize_address(address(openid)) != address(openid):
                raise ValueError
        except ValueError:
            raise Refused(400, "FromUserName is not an openid") from None
        if not fields.get("MsgType"):
            raise Refused(400, "no MsgType")
        self.guard.once(timestamp, nonce, dedupe_key(fields))
        return fields, nonce

    async def _mass_report(self, fields: dict[str, str]) -> None:
        """MASSSENDJOBFINISH: WeChat's totals for a mass send, kept with its call (archived
        like any event before this)."""
        figures = {}
        for name in ("TotalCount", "FilterCount", "SentCount", "ErrorCount"):
            with contextlib.suppress(ValueError):
                figures[name] = int(fields.get(name, ""))
        msg_id = fields.get("MsgID", "")[:40]
        try:
            async with self.db.write() as tx:
                known = await tx.wechat_mass.finished(msg_id, fields.get("Status", ""), figures)
        except Exception:  # archived: the figures can be read from the event later
            log.exception("wechat: could not record the mass-send report %s", msg_id)
            return
        if not known:
            log.info("wechat: mass-send report for unknown or settled msg_id %s", msg_id)

    async def _write_windows(self, opened: Sequence[tuple[str, str]]) -> list[None]:
        w = self.windows
        async with self.db.write() as tx:
            for chat, what in opened:
                if what == "message":
                    await tx.wechat.open_window(chat, w.message_span, w.message_count)
                else:
                    await tx.wechat.open_window(chat, w.event_span, w.event_count)
        return [None] * len(opened)

    async def _answer(
        self, slot: Slot, done: asyncio.Future[list[int]], deadline: float
    ) -> str | None:
        """The text for the passive reply, or None: no reply for this client before the
        deadline (it then goes through the API)."""

        def left() -> float:
            return max(deadline - time.monotonic(), 0.0)

        with contextlib.suppress(TimeoutError):
            ids = await asyncio.wait_for(asyncio.shield(done), left())
            if not ids and not slot.future.done():
                return None
            settled = asyncio.ensure_future(self.delivery.settled(ids, timeout=left()))
            try:
                await asyncio.wait({slot.future, settled}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                settled.cancel()
        if slot.future.done() and not slot.future.cancelled():
            return slot.future.result()
        return None
