"""End-to-end fixtures for the WeChat channel: the App with its real webhook on the app's
HTTP server, WeChat's servers simulated by `WechatServer` (signed, in safe mode encrypted,
retrying on silence) and the official API by `FakeWechatApi`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from bot import channel_registry
from bot.app import App
from bot.channels.base import Channel
from bot.config import Settings
from tests.conftest import SettingsFactory
from tests.fakes.wechat_api import FakeWechatApi, Interactions
from tests.fakes.wechat_server import WebhookResult, WechatServer
from tests.telegram.conftest import db_url, eventually, free_port, migrated_db

__all__ = ["db_url", "migrated_db"]  # a migrated database copied per test

TOKEN = "tok3nWX"
APPID = "wx1111222233334444"
SECRET = "0123456789abcdef0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ALICE = "o_alice_0000000000000000000"
PATH = "/wechat"


def wechat_env(api: FakeWechatApi, *, safe: bool, **extra: str) -> dict[str, str]:
    env = {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APPID,
        "WECHAT_APP_SECRET": SECRET,
        "WECHAT_API_BASE": api.base_url,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        **extra,
    }
    if safe:
        env["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    return env


@dataclass
class WechatBot:
    """One bot process serving WeChat (and whatever else the settings enable)."""

    settings: Settings
    api: FakeWechatApi
    wechat: WechatServer
    app: App = field(init=False)
    channels: list[Channel] = field(init=False, default_factory=list)
    stop_event: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def start(self) -> None:
        """As `python -m bot run` does it: channels from the registry on one App."""
        self.app = App(self.settings)
        self.channels = channel_registry.configured(self.settings, self.app)
        channel_registry.attach(self.app, self.channels)
        await self.app.start()
        self.stop_event = asyncio.Event()
        self.tasks = [asyncio.create_task(c.run(self.stop_event)) for c in self.channels]

    async def stop(self) -> None:
        if not self.tasks and not self.app.started:
            return
        self.stop_event.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        await self.app.stop()
        for channel in self.channels:
            await channel.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def url(self) -> str:
        s = self.settings
        return f"http://{s.http.host}:{s.http.port}{s.wechat.webhook_path}"

    async def say(self, text: str, openid: str = ALICE) -> WebhookResult:
        """A client's message; returns once its replies went out (passively or by API)."""
        result = await self.wechat.send_text(openid, text)
        await self.settled()
        return result

    async def settled(self, timeout: float = 10.0) -> None:
        async def done() -> bool:
            async with self.app.db.read() as tx:
                handled = await tx.messages.count(direction="in", status="received")
                waiting = sum(
                    [
                        await tx.messages.count(direction="out", status=s)
                        for s in ("pending", "queued", "sending")
                    ]
                )
            return not handled and not waiting

        await eventually(done, timeout=timeout, what="replies to go out")

    def texts(self, result: WebhookResult, openid: str = ALICE) -> list[str]:
        """What the client saw for one push: the passive reply, then API messages."""
        out = [result.reply.content or ""] if result.reply is not None else []
        return out + [t or "" for t in self.api.texts(openid)]


@pytest.fixture
async def wechat_api() -> AsyncIterator[FakeWechatApi]:
    api = FakeWechatApi(APPID, SECRET, interactions=Interactions(), templates={"TPL_SERVICE"})
    async with api:
        yield api


@pytest.fixture
async def make_wechat(
    make_settings: SettingsFactory, wechat_api: FakeWechatApi
) -> AsyncIterator[Callable[..., Awaitable[WechatBot]]]:
    made: list[WechatBot] = []

    async def make(*, safe: bool = True, timeout: float = 5.0, **extra: str) -> WechatBot:
        settings = make_settings(**wechat_env(wechat_api, safe=safe, **extra))
        server = WechatServer(
            "",
            TOKEN,
            APPID,
            encoding_aes_key=AES_KEY if safe else None,
            interactions=wechat_api.interactions,
            timeout=timeout,
        )
        bot = WechatBot(settings, wechat_api, server)
        await bot.start()
        server.url = bot.url
        made.append(bot)
        return bot

    yield make
    for bot in made:
        await bot.stop()
        await bot.wechat.close()


@pytest.fixture(params=["safe", "plain"])
async def wx(
    request: pytest.FixtureRequest, make_wechat: Callable[..., Awaitable[WechatBot]]
) -> WechatBot:
    return await make_wechat(safe=request.param == "safe")
