"""Telling staff when a channel is down for longer than HEALTH_DOWN_AFTER_SECONDS, and
again when it is back, on a route that does not go through the failing channel.

Runs beside the delivery engine and reads only the in-memory `Health`: the database is
touched on a change of state alone. Once per outage whatever the number of processes and
restarts: the meta key ``health.<channel>`` holds the outage staff were told of ("" when
none), and only the process that swaps it tells.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.delivery import Delivery
from bot.core.failures import log_failure
from bot.core.health.state import ChannelHealth, Health, Told
from bot.core.i18n import Translator
from bot.core.types import Outbound
from storage.database import Database
from storage.tx import Tx

log = logging.getLogger(__name__)

IDLE_WAIT = 3600.0  # seconds between looks when nothing is down (a change wakes it sooner)


def meta_key(channel: str) -> str:
    return f"health.{channel}"


def told_of(raw: str | None) -> Told | None:
    try:
        data = json.loads(raw or "")
        return Told(datetime.fromisoformat(data["since"]), str(data["error"]))
    except (ValueError, KeyError, TypeError):
        return None


class OutageNotices:
    def __init__(
        self,
        health: Health,
        db: Database,
        delivery: Delivery,
        t: Translator,
        *,
        after: float,
        staff_chat: str | None,
        admins: Sequence[str],
        tz: ZoneInfo,
    ) -> None:
        self.health = health
        self.db = db
        self.delivery = delivery
        self.t = t
        self.after = after  # seconds of continuous failure before staff hear of it
        self.staff_chat = staff_chat
        self.admins = sorted(admins)
        self.tz = tz

    async def load(self) -> None:
        """Outages an earlier process told staff of and did not see end."""
        async with self.db.read() as tx:
            for channel in [h.channel for h in self.health.channels()]:
                told = told_of(await tx.meta.get(meta_key(channel)))
                if told is not None:
                    self.health.restore(channel, told)

    def targets(self, channel: str) -> list[str]:
        """The staff chat if it is on another channel, else the admins on other channels."""
        staff = self.staff_chat
        if staff and self.health.channel_of(staff) != channel:
            return [staff]
        return [a for a in self.admins if self.health.channel_of(a) != channel]

    async def run(self) -> None:
        timer = self.delivery.timer
        changed = self.health.changed
        while True:
            changed.clear()
            try:
                wait = await self.check()
            except Exception as exc:
                log_failure(log, exc, "health: telling staff failed; trying again soon")
                wait = 5.0
            await timer.wait(changed, timer.now() + wait)

    async def check(self) -> float:
        """Tell what is due; returns the seconds until the next outage falls due."""
        now = self.health.clock()
        wait = IDLE_WAIT
        for health in list(self.health.channels()):
            if health.down and health.loud and health.told is None:
                since = health.since
                assert since is not None
                left = self.after - (now - since).total_seconds()
                if left <= 0:
                    await self._down(health)
                else:
                    wait = min(wait, left)
            elif not health.down and health.told is not None:
                await self._up(health)
        return wait

    async def _down(self, health: ChannelHealth) -> None:
        channel, since = health.channel, health.since
        assert since is not None
        key = meta_key(channel)
        told = Told(since, health.error)
        async with self.db.write() as tx:
            old = await tx.meta.get(key)
            earlier = told_of(old)
            if earlier is not None:  # another process (or run) told of this outage
                health.told = earlier
                return
            value = json.dumps({"since": since.isoformat(), "error": told.error})
            if not await tx.meta.swap(key, old, value):
                health.told = told
                return
            health.told = told
            waiting = await tx.messages.waiting()
            n = sum(waiting.get(r, (0, since))[0] for r in self.health.routes_of(channel))
            text = self.t(
                "health.down", channel=label(self.t, channel), since=self._time(since),
                span=self.t.span(self.health.clock() - since), error=told.error or "-", n=n,
            )  # fmt: skip
            await self._tell(tx, channel, text)
        self.delivery.notify()

    async def _up(self, health: ChannelHealth) -> None:
        channel, told, until = health.channel, health.told, health.up_at
        assert told is not None
        health.told = None
        key = meta_key(channel)
        async with self.db.write() as tx:
            old = await tx.meta.get(key)
            if told_of(old) is None or not await tx.meta.swap(key, old, ""):
                return  # another process said it is back
            until = until or self.health.clock()
            n = await tx.messages.waited(self.health.routes_of(channel), until)
            text = self.t(
                "health.up", channel=label(self.t, channel), since=self._time(told.since),
                until=self._time(until), span=self.t.span(until - told.since), n=n,
            )  # fmt: skip
            await self._tell(tx, channel, text)
        self.delivery.notify()

    async def _tell(self, tx: Tx, channel: str, text: str) -> None:
        targets = self.targets(channel)
        if not targets:
            log.error(
                "health: %s: every staff route (STAFF_CHAT, BOT_ADMINS) is on this channel; "
                "nobody can be told: %s", channel, text,
            )  # fmt: skip
            return
        await self.delivery.enqueue(tx, [Outbound(text, chat=c) for c in targets])

    def _time(self, when: datetime) -> str:
        return f"{when.astimezone(self.tz):%m-%d %H:%M}"


def label(t: Translator, channel: str) -> str:
    """A channel as people call it (微信, Telegram…): the catalog's broadcast names."""
    key = f"broadcast.channel_{channel}"
    return t(key) if t.has(key) else channel
