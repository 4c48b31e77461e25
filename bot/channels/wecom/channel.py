"""The WeCom channel (微信客服): the callback on the app's HTTP server, the pull of messages,
and the sender. Every process may send (a reply leaves from where it was handled); the
window and the cursor are shared in the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiohttp import web

from bot.channels.wechat.channel import token_health
from bot.channels.wechat.crypto import Envelope, Guard
from bot.channels.wecom.api import WecomApi
from bot.channels.wecom.contacts import ContactApi, ContactEvents
from bot.channels.wecom.convert import CHANNEL
from bot.channels.wecom.groups import GroupSender
from bot.channels.wecom.sender import WecomSender
from bot.channels.wecom.sync import KfSync, Window
from bot.channels.wecom.webhook import WecomWebhook
from bot.config import Settings
from bot.core.delivery import Delivery, Limits
from bot.core.i18n import Translator
from bot.core.inbox import Inbox
from storage.database import Database

log = logging.getLogger(__name__)

PULL_EVERY = 300.0  # seconds: messages whose callback was lost are read this late at most


class WecomChannel:
    def __init__(
        self, settings: Settings, inbox: Inbox, delivery: Delivery, db: Database, t: Translator
    ) -> None:
        wc = settings.wecom
        assert wc.enabled and wc.corp_id and wc.kf_id and wc.kf_secret and wc.token
        assert wc.encoding_aes_key is not None
        self.name = CHANNEL
        self.settings = settings
        self.api = WecomApi(
            db, base=wc.api_base, corp_id=wc.corp_id, secret=wc.kf_secret.get_secret_value(),
            kf_id=wc.kf_id,
        )  # fmt: skip
        self.api.on_token = token_health(delivery.health, CHANNEL)
        self.sync = KfSync(
            self.api, db, inbox, Window(timedelta(hours=wc.window_hours), wc.window_messages)
        )
        self.sender = WecomSender(self.api, db, limits=Limits(rate=wc.rate_limit))
        self.senders = [self.sender]
        self.concurrency = wc.max_in_flight
        self.lead = False
        token = wc.token.get_secret_value()
        self.contacts = None
        self.groups: GroupSender | None = None
        if wc.contact_secret is not None:
            contact_api = ContactApi(
                db, base=wc.api_base, corp_id=wc.corp_id,
                secret=wc.contact_secret.get_secret_value(), kf_id=wc.kf_id, label="contact",
            )  # fmt: skip
            self.contacts = ContactEvents(contact_api, db, inbox, t, settings.core.default_language)
            self.groups = GroupSender(contact_api, db, delivery.notify)
        self.webhook = WecomWebhook(
            guard=Guard(token, skew=wc.max_clock_skew_seconds),
            envelope=Envelope(token, wc.encoding_aes_key.get_secret_value(), wc.corp_id),
            sync=self.sync,
            kf_id=wc.kf_id,
            contacts=self.contacts,
        )

    def routes(self) -> list[web.RouteDef]:
        return self.webhook.routes(self.settings.wecom.webhook_path)

    async def run(self, stop: asyncio.Event) -> None:
        """Advisors' group messages, and now and then a read of what a lost callback would
        have announced."""
        if self.groups is not None:
            groups = asyncio.create_task(self.groups.run(stop), name="wecom-groups")
        try:
            await self._read_now_and_then(stop)
        finally:
            if self.groups is not None:
                await asyncio.gather(groups, return_exceptions=True)

    async def _read_now_and_then(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sync.pull()
            except Exception as exc:  # logged; the callbacks still work
                log.warning("wecom: periodic read failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PULL_EVERY)

    async def close(self) -> None:
        await self.webhook.close()
        await self.api.close()
        if self.contacts is not None:
            await self.contacts.api.close()
