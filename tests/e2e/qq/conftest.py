"""End-to-end fixtures for QQ: the App with its OneBot reverse WebSocket on the app's HTTP
server, and `FakeOneBot` connecting to it over a real WebSocket as NapCat would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from tests.conftest import SettingsFactory
from tests.e2e.platform_process import PlatformProcess
from tests.fakes.onebot import FakeOneBot
from tests.support import eventually, free_port

TOKEN = "onebot-secret"
ADMIN = 900
FAST = {  # the pacing has its own test; elsewhere it would only make tests slow
    "ONEBOT_PRIVATE_RATE": "20",
    "ONEBOT_PRIVATE_INTERVAL_SECONDS": "0",
    "ONEBOT_GROUP_INTERVAL_SECONDS": "0.05",
    "ONEBOT_GROUP_JITTER_SECONDS": "0",
}


@dataclass
class QQBot(PlatformProcess):
    onebot: FakeOneBot = field(kw_only=True)

    @property
    def url(self) -> str:
        s = self.settings
        return f"ws://{s.http.host}:{s.http.port}{s.onebot.ws_path}"

    async def connected(self) -> None:
        await self.onebot.connect(self.url)
        hub = self.channels[0].hub  # type: ignore[attr-defined]
        await eventually(lambda: hub.api() is not None, what="the connection")

    async def say(self, text: str, user: int = 20001, *, group: int | None = None) -> list[str]:
        """A message event; the texts the bot sent back to that chat."""
        target = group if group is not None else user
        before = len(self.onebot.texts(target))
        event = (
            self.onebot.group(group, user, text)
            if group is not None
            else self.onebot.private(user, text)
        )
        async with self.app.db.read() as tx:
            known = await tx.messages.count(direction="in")
        await self.onebot.push(event)

        async def recorded() -> bool:
            async with self.app.db.read() as tx:
                return await tx.messages.count(direction="in") > known

        if group is None or str(self.onebot.self_id) in text or text.startswith("/"):
            await eventually(recorded, what="the event to be recorded")
        await self.settled()
        return self.onebot.texts(target)[before:]

    async def settled(self, timeout: float = 10.0) -> None:
        await asyncio.sleep(0.05)  # an event pushed just now travels over the socket first
        await super().settled(timeout)


@pytest.fixture
async def make_qq(make_settings: SettingsFactory) -> AsyncIterator[Callable[..., Awaitable[QQBot]]]:
    made: list[QQBot] = []

    async def make(*, connect: bool = True, fast: bool = True, **extra: str) -> QQBot:
        env = {
            "ONEBOT_MODE": "reverse",
            "ONEBOT_ACCESS_TOKEN": TOKEN,
            "BOT_ADMINS": f"qq:{ADMIN}",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(free_port()),
            **(FAST if fast else {}),
            **extra,
        }
        bot = QQBot(make_settings(**env), onebot=FakeOneBot(token=TOKEN))
        await bot.start()
        made.append(bot)
        if connect:
            await bot.connected()
        return bot

    yield make
    for bot in made:
        await bot.onebot.close()
        await bot.stop()


@pytest.fixture
async def qq(make_qq: Callable[..., Awaitable[QQBot]]) -> QQBot:
    return await make_qq()
