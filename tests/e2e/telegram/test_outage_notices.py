"""Our own phones are down: the Bot API failing (502) for longer than HEALTH_DOWN_AFTER_SECONDS
is told to staff once, on another channel (the console), whatever the restarts; its end is
told with what waited; a short blip is not news; /status shows each channel. In virtual time:
two minutes of outage take milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiogram import Bot

from bot.app import App
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.session import BotApiSession
from bot.config import Settings
from bot.core.commands import text_event
from bot.core.delivery import Limits, OutMessage
from bot.core.types import Outbound
from tests.e2e.telegram.conftest import USER
from tests.fakes.clock import FakeTime
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import RecordingSender
from tests.support import eventually

STAFF = "console:staff"
CHAT = f"telegram:{USER}"
FAST = Limits(rate=1000, chat_interval=0.0, group_per_minute=20)


@dataclass
class StampedConsole(RecordingSender):
    """The console, noting when (virtual seconds) each message reached it."""

    time: FakeTime = field(default_factory=FakeTime)
    at: list[float] = field(default_factory=list)

    async def send(self, message: OutMessage) -> str | None:
        self.at.append(self.time.now())
        return await super().send(message)

    def to_staff(self, mark: str) -> list[str]:
        """What staff got that starts with `mark` (📵 down, ✅ back)."""
        return [s.plain for s in self.sent if s.chat == STAFF and s.plain.startswith(mark)]


@dataclass
class Processes:
    """Bot processes one after another on one database, the fake Bot API and a clock."""

    tg: FakeTelegram
    settings: Settings
    time: FakeTime
    console: StampedConsole
    app: App | None = None
    bot: Bot | None = None

    async def start(self) -> App:
        self.bot = Bot(token=self.tg.token, session=BotApiSession(self.tg.base_url, timeout=0.5))
        app = self.app = App(self.settings, clock=self.time, timer=self.time)
        self.time.quiet = lambda: (
            not (
                app.db.writing
                or app.delivery.sending
                or any(w.wake.is_set() for w in app.delivery.workers.values())
            )
        )
        app.delivery.lease, app.delivery.poll = 3600.0, 3600.0
        app.add_sender(TelegramSender(self.bot, FAST))
        app.add_sender(self.console)
        await app.start()
        return app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None
        if self.bot is not None:
            await self.bot.session.close()

    async def write(self, *texts: str) -> list[int]:
        assert self.app is not None
        async with self.app.db.write() as tx:
            ids = await self.app.delivery.enqueue(tx, [Outbound(t) for t in texts], chat=CHAT)
        self.app.delivery.notify("telegram")
        return ids

    async def staff_says(self, text: str) -> str:
        assert self.app is not None
        receipt = await self.app.inbox.receive(text_event("console", STAFF, STAFF, text))
        assert receipt is not None
        await self.app.delivery.settled(receipt[1], timeout=10)
        return self.console.sent[-1].plain


@pytest.fixture
async def processes(
    tg: FakeTelegram, tg_settings: Callable[..., Settings], fake_time: FakeTime
) -> AsyncIterator[Processes]:
    tg.clock = fake_time.now  # the fake's log in the same virtual seconds
    settings = tg_settings(STAFF_CHAT=STAFF, BOT_ADMINS=f"{STAFF},telegram:900")
    procs = Processes(tg, settings, fake_time, StampedConsole(time=fake_time))
    await procs.start()
    try:
        yield procs
    finally:
        await procs.stop()


async def test_an_outage_is_told_once_on_another_channel_and_its_end_with_what_waited(
    processes: Processes,
) -> None:
    tg, console = processes.tg, processes.console
    tg.fail_next("sendMessage", status=502, description="Bad Gateway", count=10_000)
    ids = await processes.write("早盘提示", "风险提示", "工单回复")
    down = await eventually(lambda: console.to_staff("📵"), what="staff to hear of the outage")
    first_failure = tg.calls[0][0]
    assert console.at[0] - first_failure >= 120, "not before HEALTH_DOWN_AFTER_SECONDS"
    assert "Telegram" in down[0] and "Bad Gateway" in down[0] and "3 条消息在等待" in down[0]
    status = await processes.staff_says("/status")
    assert "Telegram:故障中" in status and "Bad Gateway" in status
    assert "待发 3 条" in status and "本进程负责发送" in status
    assert "控制台:正常" in status

    # A new process while it is still down: the outage was told; it is not told again.
    await processes.stop()
    await processes.start()
    tried = len(tg.calls)
    await eventually(lambda: len(tg.calls) > tried + 3, what="the new process to try again")
    assert len(console.to_staff("📵")) == 1
    tg.stop_failing("sendMessage")
    # Each row waits out its own backoff: they leave in any order, each once.
    await eventually(
        lambda: sorted(tg.texts(USER)) == sorted(["早盘提示", "风险提示", "工单回复"]),
        what="what waited to go out",
    )
    back = await eventually(lambda: console.to_staff("✅"), what="staff to hear it is back")
    assert len(console.to_staff("📵")) == 1, "once per outage, restarts included"
    assert "3 条消息现在发出" in back[0] and "Telegram" in back[0]
    assert set((await processes.app.delivery.settled(ids)).values()) == {"sent"}  # type: ignore[union-attr]
    assert "Telegram:正常" in await processes.staff_says("/status")


async def test_a_blip_shorter_than_the_setting_is_not_news(processes: Processes) -> None:
    tg, console, time = processes.tg, processes.console, processes.time
    tg.fail_next("sendMessage", status=502, description="Bad Gateway", count=3)
    ids = await processes.write("盘中提示")
    await eventually(lambda: tg.texts(USER) == ["盘中提示"], what="the message after the blip")
    sent_at = time.now()
    # Let virtual time run well past the setting (the lease keeper's rounds move it on).
    await eventually(lambda: time.now() - sent_at > 600, what="ten quiet minutes")
    assert console.to_staff("📵") == [] and console.to_staff("✅") == []
    assert set((await processes.app.delivery.settled(ids)).values()) == {"sent"}  # type: ignore[union-attr]
    assert "Telegram:正常" in await processes.staff_says("/status")


async def test_429_is_not_an_outage(processes: Processes) -> None:
    tg, console, time = processes.tg, processes.console, processes.time
    tg.flood_next(retry_after=300)
    await processes.write("限流中的消息")
    await eventually(lambda: tg.texts(USER) == ["限流中的消息"], what="the message after the hold")
    assert time.now() - tg.calls[0][0] >= 300
    assert console.to_staff("📵") == []
