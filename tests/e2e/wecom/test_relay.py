"""A 微信客服 client's consultation reaches a Telegram advisor, whose answer comes back in
the WeCom chat inside the window, and the client's answer goes back to the advisor: one
process serving both platforms, each through its own real protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.e2e.wecom.conftest import ALICE, WecomBot
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram
from tests.support import eventually

ADMIN, ADVISOR = 900, 501


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def on_telegram(tg: FakeTelegram, user: int, text: str) -> None:
    before = len(tg.texts(user))
    tg.push_update(tg.user_message(user, text))
    await eventually(lambda: len(tg.texts(user)) > before, what=f"an answer to {text!r}")


async def test_a_wecom_consultation_answered_from_telegram_and_back(
    make_wecom: Callable[..., Awaitable[WecomBot]], tg: FakeTelegram
) -> None:
    bot = await make_wecom(
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_BASE=tg.base_url,
        TELEGRAM_MODE="polling",
        # The advisor gets several messages in a row; Telegram's 1 s spacing per chat (tested
        # on its own in test_limits_at_the_fake) would only make this test wait.
        TELEGRAM_CHAT_INTERVAL="0.05",
    )
    await on_telegram(tg, ADMIN, f"/grant telegram:{ADVISOR} advisor")
    await on_telegram(tg, ADVISOR, "/duty on")
    await on_telegram(tg, ADVISOR, "/sign 王磊 A0120611010001")

    complaint = await bot.say("投诉")
    assert any("我非常理解您的心情" in t for t in complaint)  # the seed's words, numbered
    await bot.say("取消")
    await bot.say("/advisor")
    asked = "\n".join(await bot.say("我的账户无法出金,请帮忙看一下 <b>急</b>"))
    assert "ZX-" in asked
    number = "ZX-" + asked.split("ZX-")[1].split(",")[0]
    await eventually(lambda: any(number in t for t in tg.texts(ADVISOR)), what="the notice")
    notice = next(t for t in tg.texts(ADVISOR) if number in t)
    assert "&lt;b&gt;急&lt;/b&gt;" in notice, "the client's text is escaped for Telegram"

    before = len(bot.api.texts(ALICE))
    answer = "您好,已查到原因,稍后给您回电。"
    tg.push_update(tg.user_message(ADVISOR, answer, reply_to=tg.last_message_id(ADVISOR)))
    await eventually(lambda: len(bot.api.texts(ALICE)) > before, what="the relay to WeCom")
    relayed = bot.api.texts(ALICE)[-1] or ""
    assert "稍后给您回电" in relayed and "王磊" in relayed and "<" not in relayed

    before = len(tg.texts(ADVISOR))
    await bot.say("好的,谢谢")
    await eventually(lambda: len(tg.texts(ADVISOR)) > before, what="the client's answer")
    assert any("好的,谢谢" in t for t in tg.texts(ADVISOR)[before:])
