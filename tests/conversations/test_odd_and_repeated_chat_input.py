"""Hostile and odd input: a clear reply, no crash, and the message archived exactly once."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.types import Inbound
from tests.conftest import SettingsFactory
from tests.harness import Harness


async def archived(bot: Harness, user: str = "alice") -> list[tuple[str, str, str | None]]:
    return [(m.direction, m.status, m.text) for m in await bot.archive(user)]


async def test_empty_text(bot: Harness) -> None:
    [reply] = await bot.say("")
    assert "没有收到内容" in reply.plain
    assert (await archived(bot))[0] == ("in", "handled", "")


async def test_whitespace_only_text(bot: Harness) -> None:
    assert "没有收到内容" in await bot.text("   \n\t ")


async def test_ten_thousand_characters_are_archived_whole(bot: Harness) -> None:
    text = "银" * 10_000
    replies = await bot.say(text)
    assert replies and all(len(r.text) <= 4096 for r in replies)
    [inbound] = [m for m in await bot.archive() if m.direction == "in"]
    assert inbound.text == text and inbound.status == "handled"


async def test_long_reply_is_split_at_line_boundaries(bot: Harness) -> None:
    bot.sender.max_text = 200
    replies = await bot.say("/help")
    assert len(replies) > 1 and all(len(r.text) <= 200 for r in replies)
    assert replies[-1].buttons and not replies[0].buttons, "buttons ride on the last part"
    assert "".join(r.plain for r in replies).count("/subscribe") >= 1


@pytest.mark.parametrize(
    "text",
    ["😀🙏", "订阅 😀", "\u200b\u200bTD\u200d", "\u202eTD", "\u200f退订\u200f", "订阅\u200b早盘"],
)
async def test_emoji_zero_width_and_rtl(bot: Harness, text: str) -> None:
    replies = await bot.say(text)
    assert replies, "always an answer"
    [inbound] = [m for m in await bot.archive() if m.direction == "in"]
    assert inbound.text == text, "archived exactly as received"


async def test_zero_width_inside_topic_still_understood(bot: Harness) -> None:
    await bot.say("订阅\u200b早盘")
    assert await bot.subs() == ["morning"]


async def test_unknown_command(bot: Harness) -> None:
    assert "/frobnicate" in await bot.text("/frobnicate now")
    assert "/help" in await bot.text("/frobnicate now")


async def test_fullwidth_slash_command(bot: Harness) -> None:
    assert "订阅成功" in await bot.text("/subscribe news")


async def test_markup_in_user_text_is_escaped(bot: Harness) -> None:
    [reply] = await bot.say("/subscribe <i>x&lt")
    assert "“&lt;i&gt;x&amp;lt”" in reply.text
    assert "“<i>x&lt”" in reply.plain


@pytest.mark.parametrize(
    "data", ["sub:t:nope", "sub:t:", "zzz", "menu:evil", "del:yes", "lang:fr", "", "x" * 300]
)
async def test_forged_or_stale_callback(bot: Harness, data: str) -> None:
    replies = await bot.press(data)
    assert replies and "失效" in replies[0].plain
    assert await bot.subs() == []


@pytest.mark.parametrize("kind", ["sticker", "photo", "media"])
async def test_non_text_messages(bot: Harness, kind: str) -> None:
    event = Inbound("console", "console:alice", "console:alice", kind=kind)
    [reply] = await bot.send(event)
    assert "文字" in reply.plain
    assert (await archived(bot))[0][:2] == ("in", "handled")


async def test_same_delivery_twice_is_handled_once(bot: Harness) -> None:
    event = Inbound(
        "console",
        "console:alice",
        "console:alice",
        text="/subscribe news",
        kind="command",
        command="subscribe",
        args=["news"],
        dedupe_key="d-1",
    )
    first = await bot.send(event)
    second = await bot.send(Inbound.from_payload(event.payload()))
    assert first and second == []
    assert len([m for m in await bot.archive() if m.direction == "in"]) == 1


async def test_same_delivery_concurrently_is_handled_once(bot: Harness) -> None:
    def event() -> Inbound:
        return Inbound("console", "console:alice", "console:alice", text="TD", dedupe_key="d-2")

    await bot.say("/subscribe news")
    results = await asyncio.gather(*(bot.app.inbox.receive(event()) for _ in range(10)))
    [handled] = [r for r in results if r is not None]
    await bot.app.delivery.settled(handled[1])
    stops = [s for s in bot.sender.sent if "全部" in s.plain]
    assert len(stops) == 1


async def test_many_chats_at_once_never_lock_the_database(bot: Harness) -> None:
    users = [f"u{i}" for i in range(30)]
    await asyncio.gather(*(bot.say("/subscribe news morning", user=u) for u in users))
    for user in users[:3]:
        assert await bot.subs(user) == ["morning", "news"]
    async with bot.app.db.read() as tx:
        assert await tx.messages.count(direction="in", status="handled") == 30
        assert await tx.messages.count(direction="out", status="sent") == 30


async def test_numbered_choice_on_buttonless_channel(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings(), buttons=False)
    await bot.start()
    try:
        [menu] = await bot.say("/start")
        assert "1. 📬 我的订阅" in menu.plain and "回复数字" in menu.plain
        [view] = await bot.say("1")
        assert "资讯订阅" in view.plain
        await bot.say("5")  # 5th option: morning
        assert await bot.subs() == ["morning"]
        await bot.say("早盘操作建议")  # the label works too (toggles off)
        assert await bot.subs() == []
        assert "1 到 10" in await bot.text("99")  # out of range: say which numbers work
    finally:
        await bot.stop()
