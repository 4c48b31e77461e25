"""WeCom's callback for 微信客服: the URL verification, then `kf_msg_or_event` events, signed
(msg_signature) and AES-encrypted with the corp id inside, checked as for the official
account (constant-time compares, fresh timestamps, size cap, no entities). An event is
answered at once — WeCom waits 5 seconds and retries on silence — and the messages are then
pulled (`KfSync`) in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from bot.channels.wechat import xml
from bot.channels.wechat.crypto import Envelope, Guard, Refused
from bot.channels.wecom.contacts import ContactEvents
from bot.channels.wecom.sync import KfSync

log = logging.getLogger(__name__)

BODY_TIMEOUT = 5.0
KF_EVENT = "kf_msg_or_event"
CONTACT_EVENT = "change_external_contact"


class WecomWebhook:
    def __init__(
        self,
        *,
        guard: Guard,
        envelope: Envelope,
        sync: KfSync,
        kf_id: str,
        contacts: ContactEvents | None = None,
    ) -> None:
        self.guard = guard
        self.envelope = envelope
        self.sync = sync
        self.kf_id = kf_id
        self.contacts = contacts  # 客户联系, when its secret is set
        self._pulls: set[asyncio.Task[None]] = set()

    def routes(self, path: str) -> list[web.RouteDef]:
        return [web.get(path, self.verify), web.post(path, self.receive)]

    async def verify(self, request: web.Request) -> web.Response:
        """The handshake when the callback URL is saved: the echostr decrypted, bare."""
        q = request.query
        echostr = q.get("echostr", "")
        try:
            self.guard.check(q.get("msg_signature", ""), q.get("timestamp", ""),
                             q.get("nonce", ""), echostr)  # fmt: skip
            plain = self.envelope.open(echostr)
        except Refused as exc:
            log.warning("wecom: handshake refused (%s) from %s", exc.why, request.remote)
            return web.Response(status=exc.status, text=exc.why)
        return web.Response(text=plain[:200])

    async def receive(self, request: web.Request) -> web.Response:
        try:
            fields = await self._read(request)
        except Refused as exc:
            log.warning("wecom: callback refused (%s) from %s", exc.why, request.remote)
            return web.Response(status=exc.status, text=exc.why)
        event = fields.get("Event", "").lower()
        if event == KF_EVENT:
            kf_id = fields.get("OpenKfId") or self.kf_id
            if kf_id == self.kf_id:
                self._later(self._pull_now(fields.get("Token") or None))
        elif event == CONTACT_EVENT and self.contacts is not None:
            change = fields.get("ChangeType", "")
            if change == "add_external_contact":  # the welcome has 20 seconds: not later
                self._later(self._contact(self.contacts.added, fields))
            elif change in ("del_external_contact", "del_follow_user"):
                self._later(self._contact(self.contacts.removed, fields))
        return web.Response(text="success")

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="wecom-callback")
        self._pulls.add(task)
        task.add_done_callback(self._pulls.discard)

    async def _pull_now(self, token: str | None) -> None:
        try:
            await self.sync.pull(token)
        except Exception:  # the next callback or the periodic pull reads them from the cursor
            log.exception("wecom: reading messages failed; they are read on the next pull")

    async def _contact(
        self, handle: Callable[[dict[str, str]], Awaitable[None]], fields: dict[str, str]
    ) -> None:
        try:
            await handle(fields)
        except Exception:  # the advisor's list in WeCom stays the truth; logged
            log.exception("wecom: a contact change could not be taken in")

    async def close(self) -> None:
        for task in list(self._pulls):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._pulls, return_exceptions=True)

    async def _read(self, request: web.Request) -> dict[str, str]:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if request.content_length is not None and request.content_length > xml.MAX_BODY:
            raise Refused(413, "body too large")
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await request.read()
        except TimeoutError:
            raise Refused(408, "body too slow") from None
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, "body too large") from None
        outer = xml.read(body)
        encrypted = outer.get("Encrypt")
        if not encrypted:
            raise Refused(400, "the message must be encrypted")
        self.guard.check(q.get("msg_signature", ""), timestamp, nonce, encrypted)
        fields = xml.read(self.envelope.open(encrypted))
        self.guard.once(timestamp, nonce, encrypted)
        return fields
