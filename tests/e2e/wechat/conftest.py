"""End-to-end fixtures for the WeChat channel: the App with its real webhook on the app's
HTTP server, WeChat's servers simulated by `WechatServer` (signed, in safe mode encrypted,
retrying on silence) and the official API by `FakeWechatApi`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from tests.conftest import SettingsFactory
from tests.e2e.platform_process import PlatformProcess
from tests.fakes.wechat_api import FakeWechatApi, Interactions
from tests.fakes.wechat_server import WebhookResult, WechatServer
from tests.support import free_port

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
class WechatBot(PlatformProcess):
    """One bot process serving WeChat (and whatever else the settings enable)."""

    api: FakeWechatApi = field(kw_only=True)
    wechat: WechatServer = field(kw_only=True)

    @property
    def url(self) -> str:
        s = self.settings
        return f"http://{s.http.host}:{s.http.port}{s.wechat.webhook_path}"

    async def say(self, text: str, openid: str = ALICE) -> WebhookResult:
        """A client's message; returns once its replies went out (passively or by API)."""
        result = await self.wechat.send_text(openid, text)
        await self.settled()
        return result

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
        bot = WechatBot(settings, api=wechat_api, wechat=server)
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
