"""A morning note to clients on Telegram, the official account, WeCom's 微信客服, and one
client on both Telegram and WeCom, from one process serving all three: each client gets it
exactly once, on the route the planner chose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from broadcasts import lifecycle
from tests.e2e.wechat.conftest import AES_KEY as WX_AES_KEY
from tests.e2e.wechat.conftest import APPID, SECRET, wechat_api  # noqa: F401  (a fixture)
from tests.e2e.wechat.conftest import TOKEN as WX_TOKEN
from tests.e2e.wecom.conftest import ALICE, WecomBot
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.wechat_api import FakeWechatApi
from tests.fakes.wechat_server import WechatServer
from tests.support import eventually

TG_ONLY, TG_AND_WECOM = 601, 602
WX = "o_wxclient_000000000000000000"
BOTH = "wmBothBBBBBBBBBBBBBBBBBBBBBBBBB"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def on_telegram(tg: FakeTelegram, user: int, text: str) -> None:
    before = len(tg.texts(user))
    tg.push_update(tg.user_message(user, text))
    await eventually(lambda: len(tg.texts(user)) > before, what=f"an answer to {text!r}")


async def test_a_morning_note_reaches_each_client_once_over_three_platforms(
    make_wecom: Callable[..., Awaitable[WecomBot]],
    tg: FakeTelegram,
    wechat_api: FakeWechatApi,  # noqa: F811
) -> None:
    bot = await make_wecom(
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, TELEGRAM_API_BASE=tg.base_url, TELEGRAM_MODE="polling",
        TELEGRAM_CHAT_INTERVAL="0.05",  # Telegram's 1 s per chat has its own test; here, a wait
        WECHAT_TOKEN=WX_TOKEN, WECHAT_APP_ID=APPID, WECHAT_APP_SECRET=SECRET,
        WECHAT_ENCODING_AES_KEY=WX_AES_KEY, WECHAT_API_BASE=wechat_api.base_url,
    )  # fmt: skip
    wx = WechatServer(
        f"http://{bot.settings.http.host}:{bot.settings.http.port}/wechat", WX_TOKEN, APPID,
        encoding_aes_key=WX_AES_KEY, interactions=wechat_api.interactions,
    )  # fmt: skip
    try:
        await on_telegram(tg, TG_ONLY, "订阅早盘")
        await wx.send_text(WX, "订阅早盘")
        await bot.say("订阅早盘", ALICE)
        await on_telegram(tg, TG_AND_WECOM, "/bind")
        code = next(t for t in tg.texts(TG_AND_WECOM) if "绑定" in t).split("绑定 ")[1][:6]
        await bot.say(f"绑定 {code}", BOTH)  # the same client on WeCom, written there last
        await on_telegram(tg, TG_AND_WECOM, "订阅早盘")
        await bot.say("你好", BOTH)
        await bot.settled()

        async with bot.app.db.write() as tx:
            plan = await lifecycle.plan(
                tx, bot.app.translator, author="console:admin", text="早盘提示:金价震荡。",
                topics=["morning"],
            )  # fmt: skip
            assert plan.reach == {"telegram.direct": 1, "wechat.window": 1, "wecom.window": 2}
            await lifecycle.create(tx, plan, author="console:admin", send_at=tx.now())
        bot.app.delivery.notify()
        await bot.settled()

        def got(texts: list[str | None]) -> int:
            return sum("早盘提示" in (t or "") for t in texts)

        assert got(tg.texts(TG_ONLY)) == 1
        assert got(wechat_api.texts(WX)) == 1
        assert got(bot.api.texts(ALICE)) == 1
        assert got(bot.api.texts(BOTH)) == 1 and got(tg.texts(TG_AND_WECOM)) == 0
    finally:
        await wx.close()
