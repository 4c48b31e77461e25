"""End-to-end fixtures for WeCom's 微信客服: the bot's callback on the app's HTTP server,
WeCom's servers simulated by `WecomServer` (signed, encrypted, retrying) and its API by
`FakeWecomApi`, neither sharing code with the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from tests.conftest import SettingsFactory
from tests.e2e.platform_process import PlatformProcess
from tests.fakes.wecom_api import FakeWecomApi
from tests.fakes.wecom_kf_api import KfSent
from tests.fakes.wecom_server import PushResult, WecomServer
from tests.support import free_port

CORP = "ww1111222233334444"
KF_SECRET = "kfSecret0123456789abcdefghijklmnopqrstuvwxy"
TOKEN = "t0kenWecom"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KFID = "wkAJ2GCAAA0000000000000000000001"
ALICE = "wmAliceAAAAAAAAAAAAAAAAAAAAAAAA"


@dataclass
class WecomBot(PlatformProcess):
    api: FakeWecomApi = field(kw_only=True)
    wecom: WecomServer = field(kw_only=True)

    @property
    def url(self) -> str:
        s = self.settings
        return f"http://{s.http.host}:{s.http.port}{s.wecom.webhook_path}"

    async def announce(self) -> PushResult:
        """WeCom's callback that there is something new to read."""
        return await self.wecom.kf_event(KFID, self.api.callback_token())

    async def say(self, text: str, user: str = ALICE) -> list[str]:
        """A client's message; returns what the client got for it once all went out."""
        before = len(self.api.sent)
        self.api.client_says(user, text)
        result = await self.announce()
        assert result.delivered
        await self.read_and_settle()
        return [shown(s) for s in self.api.sent[before:] if s.touser == user]

    async def read_and_settle(self) -> None:
        """The pull the callback started is done, and every reply went out."""
        channel = next(c for c in self.channels if c.name == "wecom")
        await channel.sync.pull()  # type: ignore[attr-defined]  # waits for the one under way
        await self.settled()


def shown(sent: KfSent) -> str:
    """What the client reads: a text, or a menu message's head, options and tail."""
    if sent.menu is None:
        return sent.content or ""
    items = [i.get("click", {}).get("content", "") for i in sent.menu.get("list", [])]
    return "\n".join([sent.menu.get("head_content", ""), *items, sent.menu.get("tail_content", "")])


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    api = FakeWecomApi(CORP, {KF_SECRET: ["kf"]}, open_kfids=(KFID,))
    async with api:
        yield api


@pytest.fixture
async def make_wecom(
    make_settings: SettingsFactory, wecom_api: FakeWecomApi
) -> AsyncIterator[Callable[..., Awaitable[WecomBot]]]:
    made: list[WecomBot] = []

    async def make(**extra: str) -> WecomBot:
        settings = make_settings(
            WECOM_CORP_ID=CORP, WECOM_KF_SECRET=KF_SECRET, WECOM_KF_ID=KFID,
            WECOM_TOKEN=TOKEN, WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE=wecom_api.base_url,
            HTTP_HOST="127.0.0.1", HTTP_PORT=str(free_port()), **extra,
        )  # fmt: skip
        server = WecomServer("", TOKEN, AES_KEY, CORP)
        bot = WecomBot(settings, api=wecom_api, wecom=server)
        await bot.start()
        server.url = bot.url
        made.append(bot)
        return bot

    yield make
    for bot in made:
        await bot.stop()
        await bot.wecom.close()


@pytest.fixture
async def wc(make_wecom: Callable[..., Awaitable[WecomBot]]) -> WecomBot:
    return await make_wecom()
