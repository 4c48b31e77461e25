"""The WeChat official account as a channel: its webhook on the app's HTTP server, its
sender behind the delivery engine, and the API session they share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from aiohttp import web

from bot.channels.wechat.api import WechatApi
from bot.channels.wechat.convert import CHANNEL
from bot.channels.wechat.crypto import Envelope, Guard
from bot.channels.wechat.mass import MassSender
from bot.channels.wechat.passive import PassiveReplies
from bot.channels.wechat.sender import Templates, WechatSender
from bot.channels.wechat.webhook import WechatWebhook, Windows
from bot.config import Settings
from bot.core.delivery import Delivery, Limits
from bot.core.health import Health
from bot.core.inbox import Inbox
from storage.database import Database


def token_health(health: Health, channel: str) -> Callable[[str | None], None]:
    """What the API says of its access token, as the channel's health (no token, no sends)."""

    def said(problem: str | None) -> None:
        if problem is None:
            health.up(channel, source="token")
        else:
            health.down(channel, problem, source="token")

    return said


# No spacing per client: a passive reply is written the moment it is handed over, before
# any API call for what follows it can reach WeChat.
CHAT_INTERVAL = 0.0


class WechatChannel:
    def __init__(self, settings: Settings, inbox: Inbox, delivery: Delivery, db: Database) -> None:
        wx = settings.wechat
        assert wx.token and wx.app_id and wx.app_secret, "WechatChannel needs WECHAT_* set"
        token = wx.token.get_secret_value()
        self.name = CHANNEL
        self.settings = settings
        self.api = WechatApi(
            db, base=wx.api_base, app_id=wx.app_id, secret=wx.app_secret.get_secret_value()
        )
        self.api.on_token = token_health(delivery.health, CHANNEL)
        passive = PassiveReplies()
        self.sender = WechatSender(
            self.api,
            db,
            passive,
            limits=Limits(rate=wx.rate_limit, chat_interval=CHAT_INTERVAL),
            templates=Templates(wx.service_template_id, wx.service_template_field),
        )
        self.mass = MassSender(self.api, db, tags=wx.account_type == "subscription")
        self.concurrency = wx.max_in_flight
        # Every process sends: a reply then leaves from the process holding the client's
        # request, in the HTTP response. The token and the windows are shared in the database.
        self.lead = False
        self.senders = [self.sender]
        envelope = None
        if wx.safe_mode and wx.encoding_aes_key is not None:
            envelope = Envelope(token, wx.encoding_aes_key.get_secret_value(), wx.app_id)
        self.webhook = WechatWebhook(
            inbox=inbox,
            delivery=delivery,
            db=db,
            guard=Guard(token, skew=wx.max_clock_skew_seconds),
            envelope=envelope,
            passive=passive,
            passive_seconds=wx.passive_seconds,
            windows=Windows(
                message_span=timedelta(hours=wx.window_hours),
                message_count=wx.window_messages,
                event_span=timedelta(seconds=wx.event_window_seconds),
                event_count=wx.event_window_messages,
            ),
        )

    def routes(self) -> list[web.RouteDef]:
        return self.webhook.routes(self.settings.wechat.webhook_path)

    async def run(self, stop: asyncio.Event) -> None:
        # WeChat calls us (the webhook is served by the app); we call it for mass sends.
        await self.mass.run(stop)

    async def close(self) -> None:
        await self.api.close()
