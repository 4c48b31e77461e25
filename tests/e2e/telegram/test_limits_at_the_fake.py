"""Telegram's limits as the fake Bot API counts them (arrival times of every call): the
rate in any rolling second, one message a second per chat, twenty a minute per group, no
call at all during a 429 hold; priorities; and serving at once whatever the backlog."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import App
from bot.core.delivery import Limits
from bot.core.types import Outbound
from tests.e2e.telegram.conftest import USER, TelegramBot
from tests.e2e.telegram.test_sending import Outbox, open_outbox
from tests.fakes.clock import FakeTime
from tests.fakes.telegram_api import FakeTelegram, peak
from tests.support import eventually

TELEGRAM = Limits(rate=30, chat_interval=1.0, group_per_minute=20)


@pytest.fixture
async def ten_a_second_box(
    tg: FakeTelegram, tg_settings: Callable[..., object], fake_time: FakeTime
) -> AsyncIterator[Outbox]:
    """Ten a second, one a second per chat, in virtual time: the fake counts arrivals on the
    same clock, so a busy event loop (the fake and the bot share it) cannot bunch them."""
    box = await open_outbox(tg, tg_settings(), fake_time, Limits(rate=10, chat_interval=1.0))
    try:
        yield box
    finally:
        await box.close()


@pytest.fixture
async def virtual_box(
    tg: FakeTelegram, tg_settings: Callable[..., object], fake_time: FakeTime
) -> AsyncIterator[Outbox]:
    box = await open_outbox(tg, tg_settings(), fake_time, TELEGRAM)
    try:
        yield box
    finally:
        await box.close()


async def test_never_more_than_the_rate_in_any_rolling_second_at_the_fake(
    ten_a_second_box: Outbox,
) -> None:
    box, tg = ten_a_second_box, ten_a_second_box.tg
    tg.enforce(rate=10, chat_interval=1.0)  # the fake refuses what Telegram would refuse
    started = box.time.now()
    ids = [
        i
        for n in range(35)
        for i in await box.write(Outbound(f"提示{n}"), chat=f"telegram:{100 + n}")
    ]
    await box.settled(ids, timeout=15)
    times = tg.message_times()
    assert len(tg.sent()) == 35 and not tg.holds, "no 429 was needed"
    assert peak(times) <= 10
    assert box.time.now() - started >= 3.0, "35 at 10/s take over three (virtual) seconds"
    assert (35 - 1) / (times[-1] - times[0]) >= 9, "and hardly less"


async def test_one_message_a_second_to_one_chat(ten_a_second_box: Outbox) -> None:
    box, tg = ten_a_second_box, ten_a_second_box.tg
    ids = await box.write(*(Outbound(f"第{n}段") for n in range(4)))
    await box.settled(ids, timeout=10)
    times = tg.message_times()
    assert tg.texts(USER) == [f"第{n}段" for n in range(4)], "in order"
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


async def test_twenty_a_minute_to_one_group(virtual_box: Outbox) -> None:
    tg = virtual_box.tg
    group = "telegram:-100500"
    ids = await virtual_box.write(*(Outbound(f"群消息{n}") for n in range(45)), chat=group)
    await virtual_box.settled(ids, timeout=20)
    times = tg.message_times()
    assert len(tg.sent(-100500)) == 45
    assert peak(times, span=60.0) <= 20
    assert times[-1] - times[0] >= 120, "45 at 20 a minute take over two minutes"


async def test_no_call_at_all_during_429_holds(virtual_box: Outbox) -> None:
    tg = virtual_box.tg
    ids = []
    for n in range(60):
        ids += await virtual_box.write(Outbound(f"提示{n}"), chat=f"telegram:{100 + n}")
    for _ in range(4):
        tg.flood_next(retry_after=3)
        await eventually(lambda: tg.holds and tg.clock() >= tg.holds[-1][1], what="a hold")
    await virtual_box.settled(ids)
    assert len(tg.holds) >= 4
    assert tg.calls_during_holds == 0
    assert sorted(p["text"] for p in tg.sent()) == sorted(f"提示{n}" for n in range(60))


async def test_replies_go_before_bulk_and_alerts_before_routine_notes(
    virtual_box: Outbox,
) -> None:
    box, tg = virtual_box, virtual_box.tg
    async with box.app.db.write() as tx:  # all queued at once, oldest first
        enqueue = box.app.delivery.enqueue
        ids = await enqueue(
            tx, [Outbound(f"早盘{n}") for n in range(3)], chat="telegram:201", bulk=True
        )
        ids += await enqueue(tx, [Outbound("风险警示", priority=9)], chat="telegram:202", bulk=True)
        ids += await enqueue(tx, [Outbound("您好")], chat="telegram:203")
    box.app.delivery.notify()
    await box.settled(ids)
    assert [p["text"] for p in tg.sent()] == ["您好", "风险警示", "早盘0", "早盘1", "早盘2"]


async def test_the_bot_serves_within_two_seconds_while_a_backlog_drains(
    make_bot: Callable[..., object],
) -> None:
    bot: TelegramBot = await make_bot(start=False)
    earlier = App(bot.settings)  # the database as a broadcast of 2,000 left it
    await earlier.start()
    async with earlier.db.write() as tx:
        await tx.messages.add_outbound_many(
            [
                {"channel": "telegram", "chat": f"telegram:{10_000 + n}", "text": f"早盘{n}",
                 "payload": {}, "bulk": True}
                for n in range(2000)
            ]
        )  # fmt: skip
    await earlier.stop()
    started = time.monotonic()
    await bot.start()
    assert time.monotonic() - started < 2.0, "polling started at once"
    before = len(bot.tg.sent())
    [reply] = await bot.say("/start")
    assert "国瑞投资" in reply["text"]
    assert len(bot.tg.sent()) - before < 2000, "answered while the backlog still drains"
    assert time.monotonic() - started < 4.0
