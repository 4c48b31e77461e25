"""QQ as a channel: a OneBot v11 implementation connected to the bot (reverse WebSocket on
the app's HTTP server, or forward: the bot connects out), two senders (people and groups,
each paced as QQ tolerates), and events recorded before anything else is done with them."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from aiohttp import web

from bot.channels.base import staff_notices
from bot.channels.qq.convert import CHANNEL, GROUPS, message_event
from bot.channels.qq.hub import Hub
from bot.channels.qq.link import ActionTimeout, Link, LinkClosed
from bot.channels.qq.sender import QQSender
from bot.config import Settings
from bot.core.delivery import Delivery, Limits
from bot.core.i18n import Translator
from bot.core.inbox import Inbox
from storage.database import Database

log = logging.getLogger(__name__)

GAP_WORTH_TELLING = 5.0  # seconds; a quick reconnect is not news


class QQChannel:
    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        delivery: Delivery,
        db: Database,
        translator: Translator,
    ) -> None:
        ob = settings.onebot
        self.name = CHANNEL
        self.settings = settings
        self.inbox, self.delivery, self.db, self.t = inbox, delivery, db, translator
        token = ob.access_token.get_secret_value() if ob.access_token else None
        self.hub = Hub(
            token=token,
            heartbeat_timeout=ob.heartbeat_timeout_seconds,
            max_frame=ob.max_frame_bytes,
            on_event=self._event,
            on_gap=self._gap,
            on_links=self._links,
        )
        people = Limits(rate=ob.private_rate, chat_interval=ob.private_interval_seconds)
        groups = Limits(
            rate=ob.private_rate,
            group_interval=ob.group_interval_seconds,
            group_jitter=ob.group_jitter_seconds,
        )
        timeout = ob.action_timeout_seconds
        self.senders = [
            QQSender(self.hub, CHANNEL, limits=people, timeout=timeout),
            QQSender(self.hub, GROUPS, limits=groups, timeout=timeout),
        ]
        self.concurrency = 4  # QQ is paced in seconds; a few in flight cover the answers
        # One process sends: the one the implementation is connected to.
        self.lead = True

    def routes(self) -> list[web.RouteDef]:
        ob = self.settings.onebot
        return [web.get(ob.ws_path, self.hub.reverse)] if ob.mode == "reverse" else []

    async def run(self, stop: asyncio.Event) -> None:
        ob = self.settings.onebot
        self._links()  # not connected yet: down until the implementation connects
        if ob.mode == "forward" and ob.ws_url:
            await self.hub.forward(ob.ws_url, stop)
        else:
            await stop.wait()

    async def close(self) -> None:
        await self.hub.close()

    # ---- events ---------------------------------------------------------------------------------

    async def _event(self, link: Link, data: dict[str, Any]) -> None:
        kind = data.get("post_type")
        if kind == "message":
            event = message_event(data, prefix=self.settings.onebot.group_prefix)
            if event is None:
                return  # group talk not addressed to the bot: not ours to keep
            message_id = await self.inbox.record(event, data)
            if message_id is not None:  # None: a redelivery
                self.inbox.submit(message_id, event)
        elif kind == "request":
            await self._request(link, data)
        elif kind == "meta_event":
            interval = data.get("interval")  # heartbeat: ms between two of them
            if data.get("meta_event_type") == "heartbeat" and isinstance(interval, int | float):
                floor = self.settings.onebot.heartbeat_timeout_seconds
                link.heartbeat_timeout = max(floor, 2.5 * float(interval) / 1000)
        else:
            log.info("onebot %s: %s event ignored", link.self_id, str(kind)[:40])

    async def _request(self, link: Link, data: dict[str, Any]) -> None:
        """Friend requests and group invitations, as the settings say."""
        ob = self.settings.onebot
        request_type, sub_type = data.get("request_type"), data.get("sub_type")
        if request_type == "friend":
            policy, action = ob.friend_requests, "set_friend_add_request"
            params: dict[str, Any] = {"flag": data.get("flag"), "approve": True}
        elif request_type == "group" and sub_type == "invite":
            policy, action = ob.group_invites, "set_group_add_request"
            params = {"flag": data.get("flag"), "sub_type": "invite", "approve": True}
        else:
            return
        who, group = str(data.get("user_id", ""))[:20], str(data.get("group_id", ""))[:20]
        log.info("onebot %s: %s request from %s (%s)", link.self_id, request_type, who, policy)
        if policy == "accept":
            try:
                await link.call(action, params, self.settings.onebot.action_timeout_seconds)
            except (ActionTimeout, LinkClosed) as exc:
                log.warning("onebot %s: could not accept (%s)", link.self_id, exc)
        elif policy == "ask":
            key = "qq.friend_request" if request_type == "friend" else "qq.group_invite"
            comment = str(data.get("comment") or "")[:200]
            await self._tell_staff(self.t(key, user=who, group=group, comment=comment or "-"))

    def _links(self) -> None:
        """The channel's health: up while a link takes actions (sends can go)."""
        if self.hub.api() is None:
            self.delivery.health.down(CHANNEL, "OneBot is not connected", source="link")
        else:
            self.delivery.health.up(CHANNEL, source="link")

    async def _gap(self, account: str, down: float, up: float) -> None:
        if up - down < GAP_WORTH_TELLING:
            return
        tz = self.settings.core.tz
        since = dt.datetime.fromtimestamp(down, tz)
        until = dt.datetime.fromtimestamp(up, tz)
        log.warning("onebot %s: was disconnected from %s to %s", account, since, until)
        await self._tell_staff(
            self.t("qq.gap", account=account, since=f"{since:%m-%d %H:%M:%S}",
                   until=f"{until:%m-%d %H:%M:%S}", minutes=f"{(up - down) / 60:.1f}")
        )  # fmt: skip

    async def _tell_staff(self, text: str) -> None:
        async with self.db.write() as tx:
            await self.delivery.enqueue(tx, staff_notices(self.settings, text))
        self.delivery.notify()
