"""SMS as a channel: its sender behind the delivery engine (one process sends, like Telegram:
the provider's rate and each number's caps are the account's), the provider's receipts and
the clients' replies.

Receipts set a sent row `delivered` or `failed` with the carrier's code. Replies are messages
like any other (recorded, then handled); the words R, TD, T, N and 退订 are handled as an
opt-out by the SMS feature. Alibaba pushes both to SMS_CALLBACK_PATH when SMS_CALLBACK_TOKEN
is set; without it receipts are asked for (QuerySendDetails) by the sending process.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from bot.channels.base import staff_notices
from bot.channels.sms.aliyun import AliyunSms
from bot.channels.sms.aliyun_provider import BEIJING, AliyunProvider, parse_push
from bot.channels.sms.errors import ChannelStopped
from bot.channels.sms.provider import Receipt, Reply, Reports, SmsProvider
from bot.channels.sms.sender import CHANNEL, SmsSender
from bot.config import Settings
from bot.core.commands import text_event
from bot.core.delivery import Delivery, Limits
from bot.core.i18n import Translator
from bot.core.inbox import Inbox
from storage.database import Database
from storage.records import Hours

log = logging.getLogger(__name__)

RECEIPT_GRACE = timedelta(minutes=2)  # a receipt usually comes within seconds
STOPPED_KEY = "sms.stopped"  # meta: why the account cannot send ("" when it can)
OK = {"code": 0, "msg": "接收成功"}


def provider_from(settings: Settings, clock: Callable[[], datetime]) -> SmsProvider:
    """The provider the settings name; `clock` signs Alibaba's requests (its Timestamp)."""
    sms = settings.sms
    if sms.provider == "smpp":
        from bot.channels.sms.smpp import SmppSms

        assert sms.smpp_host and sms.smpp_system_id and sms.smpp_password
        assert sms.smpp_source_addr and sms.sign_name
        return SmppSms(
            host=sms.smpp_host,
            port=sms.smpp_port,
            system_id=sms.smpp_system_id,
            password=sms.smpp_password.get_secret_value(),
            system_type=sms.smpp_system_type,
            source_addr=sms.smpp_source_addr,
            sign_name=sms.sign_name,
            window=sms.smpp_window,
            enquire_seconds=sms.smpp_enquire_seconds,
            clock=clock,
            country_code=sms.smpp_country_code,
        )
    assert sms.access_key_id and sms.access_key_secret and sms.sign_name
    client = AliyunSms(
        access_key_id=sms.access_key_id,
        access_key_secret=sms.access_key_secret.get_secret_value(),
        base=sms.api_base,
        clock=clock,
    )
    templates = {
        "notice": sms.template_notice or "",
        "alert": sms.template_alert or "",
        "marketing": sms.template_marketing or "",
    }
    return AliyunProvider(
        client, sign_name=sms.sign_name, templates=templates, variable=sms.variable
    )


class SmsChannel:
    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        delivery: Delivery,
        db: Database,
        translator: Translator,
        provider: SmsProvider | None = None,
    ) -> None:
        sms = settings.sms
        self.name = CHANNEL
        self.settings = settings
        self.inbox = inbox
        self.delivery = delivery
        self.db = db
        self.t = translator
        self.provider = provider or provider_from(settings, db.clock)
        alert_quiet = Hours(*sms.alert_quiet) if sms.alert_quiet else None
        self.sender = SmsSender(
            self.provider,
            limits=Limits(rate=sms.rate),
            variable_max=sms.variable_max,
            clock=db.clock,
            tz=settings.core.tz,
            quiet=Hours(*sms.quiet),
            alert_quiet=alert_quiet,
            per_hour=sms.per_number_hour,
            per_day=sms.per_number_day,
            history=self._history,
            on_stopped=self._stopped,
            on_resumed=self._resumed,
        )
        self.senders = [self.sender]
        self.concurrency = max(4, min(64, round(sms.rate)))
        self.lead = True  # the account's rate and each number's caps are counted in one place
        self.reports = Reports(self.receipt, self.reply)
        token = sms.callback_token
        self.token = token.get_secret_value() if token is not None else None
        self.pushed = self.provider.name == "aliyun" and self.token is not None

    def routes(self) -> list[web.RouteDef]:
        if not self.pushed:
            return []
        return [web.post(self.settings.sms.callback_path, self._push)]

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._provider(stop), name="sms-provider")]
        tasks.append(asyncio.create_task(self._upkeep(stop), name="sms-upkeep"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def close(self) -> None:
        await self.provider.close()

    async def _provider(self, stop: asyncio.Event) -> None:
        """The provider's own upkeep (SMPP: the bind). A login the gateway refuses stops the
        channel until the settings are fixed: staff hear it once, texts wait."""
        try:
            await self.provider.run(stop, self.reports)
        except ChannelStopped as exc:
            log.error("sms: the provider refused us: %s", exc)
            await self._stopped(str(exc))

    # ---- receipts and replies -----------------------------------------------------------------

    async def receipt(self, receipt: Receipt) -> None:
        async with self.db.write() as tx:
            await tx.sms.receipt(
                message_id=receipt.message_id or f"row:{receipt.out_id}",
                phone=receipt.phone,
                delivered=receipt.delivered,
                code=receipt.code,
                at=receipt.at,
                parts=receipt.parts,
                out_id=receipt.out_id,
            )

    async def reply(self, reply: Reply) -> None:
        """A client's text: recorded (a redelivery is recognised by its key), then handled."""
        chat = f"{CHANNEL}:{reply.phone}"
        event = text_event(CHANNEL, chat, chat, reply.text.strip(), dedupe_key=reply.key)
        message_id = await self.inbox.record(event, {"key": reply.key})
        if message_id is not None:
            self.inbox.submit(message_id, event)

    async def _push(self, request: web.Request) -> web.Response:
        """Alibaba's batch push: answered {"code": 0} once everything in it is recorded;
        anything else makes Alibaba push it again."""
        given = request.query.get("token", "")
        if self.token is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return web.json_response({"code": 1, "msg": "bad token"}, status=403)
        try:
            receipts, replies = parse_push(json.loads(await request.read()))
        except ValueError as exc:
            return web.json_response({"code": 1, "msg": str(exc)[:100]}, status=400)
        for receipt in receipts:
            await self.receipt(receipt)
        for reply in replies:
            await self.reply(reply)
        return web.json_response(OK)

    # ---- upkeep -------------------------------------------------------------------------------

    async def _upkeep(self, stop: asyncio.Event) -> None:
        """Every SMS_POLL_SECONDS: receipts that came early settle their rows, and without a
        push the sending process asks for the receipts of what it sent."""
        every = self.settings.sms.poll_seconds
        while not stop.is_set():
            try:
                await self.upkeep()
            except Exception:
                log.exception("sms: upkeep failed; trying again later")
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass

    async def upkeep(self) -> None:
        async with self.db.write() as tx:
            await tx.sms.settle_waiting()
        self.sender.forget(self.db.clock())
        if self.pushed or not self.delivery.leads(CHANNEL):
            return
        asking = getattr(self.provider, "receipts", None)
        if asking is None:  # SMPP: receipts come over the connection
            return
        async with self.db.read() as tx:
            waiting = await tx.sms.awaiting(RECEIPT_GRACE)
        for item in waiting:
            sent_on = item.sent_at.astimezone(BEIJING).date()
            for found in await asking(item.phone, sent_on, item.message_id):
                out_id = found.out_id or (None if item.message_id else str(item.row_id))
                await self.receipt(
                    Receipt(
                        found.message_id or item.message_id or "",
                        found.phone or item.phone,
                        found.delivered,
                        found.code,
                        found.at,
                        out_id,
                    )
                )

    # ---- the account cannot send --------------------------------------------------------------

    async def _history(self, since: datetime) -> dict[str, list[datetime]]:
        async with self.db.read() as tx:
            return await tx.sms.sent_since(since)

    async def _stopped(self, why: str) -> None:
        """The channel's health shows it too, as told already (staff hear it here, at once,
        with what to do: an account problem no waiting fixes)."""
        self.delivery.health.down(CHANNEL, why, source="account", quiet=True)
        await self._announce(why[:300] or "?")

    async def _resumed(self) -> None:
        self.delivery.health.up(CHANNEL, source="account")
        await self._announce("")

    async def _announce(self, stopped: str) -> None:
        """Staff hear that the account stopped (`stopped`: why) or sends again (""), once
        per change whatever the number of processes and restarts: the state is kept in the
        database, and only the process that changes it speaks."""
        async with self.db.write() as tx:
            told = await tx.meta.get(STOPPED_KEY)
            if bool(told) == bool(stopped) or not await tx.meta.swap(STOPPED_KEY, told, stopped):
                return
            waiting = await tx.messages.count(channel=CHANNEL, status="pending")
            key = "sms.channel_stopped" if stopped else "sms.channel_resumed"
            text = self.t(key, why=stopped, n=waiting)
            await self.delivery.enqueue(tx, staff_notices(self.settings, text))
        self.delivery.notify()
