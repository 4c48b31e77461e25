"""Staff broadcasting from the chat: topics, preview with count and risk line, now or
later, /alert ahead of the rest, /broadcasts with stop and cancel."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcasts import lifecycle
from broadcasts.trading_calendar import save_override
from storage.schema import messages
from tests.conftest import SettingsFactory
from tests.fakes.clock import START
from tests.harness import Harness
from tests.support import eventually

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


def market(tmp_path: Path, open_: bool) -> dict[str, str]:
    """Settings with the market open (or closed) all of the harness's day."""
    overrides = tmp_path / "over.yaml"
    today = START.astimezone(ZoneInfo("Asia/Shanghai")).date()
    save_override(overrides, today.isoformat(), "trading" if open_ else "closed")
    save_override(overrides, (today - dt.timedelta(days=1)).isoformat(), "closed")
    return {"CALENDAR_OVERRIDES": str(overrides), "TRADING_HOURS": "00:00-00:00"}


@pytest.fixture
async def room(make_settings: SettingsFactory, tmp_path: Path) -> Harness:
    bot = Harness(make_settings(**market(tmp_path, open_=True)))
    await bot.start()
    await bot.say("/grant console:staff1 staff", user="admin")
    for user in ("c1", "c2", "c3"):
        await bot.say("/subscribe morning risk", user=user)
    yield bot  # type: ignore[misc]
    await bot.stop()


def to(sent: list, chat: str) -> list:  # type: ignore[type-arg]
    return [s for s in sent if s.chat == chat]


async def test_broadcast_with_preview_then_now(room: Harness) -> None:
    [menu] = await room.say("/broadcast", user="staff1")
    assert "bc:t:morning" in menu.callbacks
    await room.press("bc:t:morning", user="staff1")
    [write] = await room.press("bc:next", user="staff1")
    assert "4096" in write.plain
    [preview] = await room.say("黄金早盘关注 2650 支撑", user="staff1")
    assert "3 位客户" in preview.plain and "风险提示" in preview.plain
    assert preview.callbacks[:2] == ["bc:now", "bc:later"]
    sent = await room.press("bc:now", user="staff1")
    assert "已开始发送给 3 位客户" in to(sent, "console:staff1")[0].plain
    await room.idle()
    for user in ("c1", "c2", "c3"):
        texts = [s.plain for s in room.sender.sent if s.chat == f"console:{user}"]
        assert sum("2650" in t for t in texts) == 1
    before = len(room.sender.sent)
    await room.app.broadcast_tick()
    await room.idle()
    [report] = to(room.sender.sent[before:], "console:staff1")
    assert "已送达 3" in report.plain


async def test_a_scheduled_broadcast_can_be_cancelled(room: Harness) -> None:
    await room.say("/broadcast", user="staff1")
    await room.press("bc:t:morning", user="staff1")
    await room.press("bc:next", user="staff1")
    await room.say("晚盘提示", user="staff1")
    await room.press("bc:later", user="staff1")
    [wrong] = await room.say("明天早上", user="staff1")
    assert "看不懂" in wrong.plain
    async with room.app.db.read() as tx:
        later = (tx.now() + timedelta(days=1)).astimezone(room.app.desk.tz)
    await room.say(later.strftime("%Y-%m-%d %H:%M"), user="staff1")
    [scheduled] = await room.press("bc:confirm", user="staff1")
    assert "将于" in scheduled.plain
    [listing] = await room.say("/broadcasts", user="staff1")
    [cancel] = listing.callbacks
    [done] = await room.press(cancel, user="staff1")
    assert "已取消" in done.plain
    async with room.app.db.read() as tx:
        [b] = await tx.broadcasts.recent()
    assert b.status == "cancelled" and b.recipients == 0


async def test_alert_goes_first_and_clients_cannot_broadcast(room: Harness) -> None:
    # The alert leaves at once, ahead of the rest: its copies may go out before the answer
    # to its author is settled, and so be among what `say` returns; so may, later, its
    # report to the author (the 5-second broadcast tick). Each answer is picked from them.
    [ok] = to(
        await room.say("/alert 非农数据前波动加大,注意控制仓位", user="staff1"), "console:staff1"
    )
    assert "3 位客户" in ok.plain
    async with room.app.db.read() as tx:
        [b] = await tx.broadcasts.recent()
    assert b.kind == "alert" and b.priority > 0 and b.audience == {"topics": ["risk"]}
    await room.idle()  # the alert reaches c1 first, not in the middle of c1's next exchange
    [refused] = to(await room.say("/broadcast", user="c1"), "console:c1")
    assert "仅限" in refused.plain
    said = await room.say("/alert 保证收益", user="staff1")
    [blocked] = [s for s in said if "保证收益" in s.plain]
    assert blocked.chat == "console:staff1"


async def test_a_running_broadcast_can_be_stopped_and_its_author_hears(room: Harness) -> None:
    async with room.app.db.write() as tx:  # a broadcast under way, its rows not yet tried
        plan = await lifecycle.plan(
            tx, room.app.translator, author="console:staff1", text="x", topics=["morning"]
        )
        created = await lifecycle.create(tx, plan, author="console:staff1", send_at=tx.now())
        await tx.conn.execute(
            messages.update().where(messages.c.broadcast_id == created.id).values(status="queued")
        )
    [listing] = await room.say("/broadcasts", user="staff1")
    [stop] = listing.callbacks
    [stopped] = await room.press(stop, user="staff1")
    assert "已停止" in stopped.plain
    before = len(room.sender.sent)
    await room.app.broadcast_tick()
    await room.idle()
    [report] = to(room.sender.sent[before:], "console:staff1")
    assert "已停止" in report.plain and "已取消 3" in report.plain


async def test_an_alert_outside_trading_hours_needs_a_confirmation(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    bot = Harness(make_settings(**market(tmp_path, open_=False)))
    await bot.start()
    try:
        await bot.say("/grant console:staff1 staff", user="admin")
        [ask] = await bot.say("/alert 周末消息面风险提示", user="staff1")
        assert "非交易时间" in ask.plain and ask.callbacks[0] == "bc:alert"
        async with bot.app.db.read() as tx:
            assert await tx.broadcasts.recent() == []
        [sent] = await bot.press("bc:alert", user="staff1")
        assert "风险警示 #" in sent.plain
    finally:
        await bot.stop()


async def test_the_same_alert_twice_is_refused_and_an_alert_can_be_withdrawn(room: Harness) -> None:
    await room.say("/alert 美联储讲话前注意仓位", user="staff1")
    # The first one's copies may still be leaving: the answer is staff1's.
    [double] = to(await room.say("/alert 美联储讲话前注意仓位", user="staff1"), "console:staff1")
    assert "刚刚已发过" in double.plain
    await room.idle()
    async with room.app.db.read() as tx:
        [first] = await tx.broadcasts.recent()
    said = await room.say(f"/alert withdraw {first.id}", user="staff1")
    # The alert's own report to its author may come in the same moment: not the answer.
    [withdrawn] = [s for s in said if "已撤回风险警示" in s.plain]
    assert "3 位" in withdrawn.plain
    await room.idle()
    for user in ("c1", "c2", "c3"):
        texts = [s.plain for s in room.sender.sent if s.chat == f"console:{user}"]
        assert any("撤回" in t for t in texts)


async def test_an_alert_retyped_with_other_punctuation_is_the_same_alert(room: Harness) -> None:
    await room.say("/alert 美联储讲话前注意仓位，控制风险。", user="staff1")
    await room.idle()
    [double] = await room.say("/alert 美联储讲话前注意仓位,控制风险", user="staff1")
    assert "刚刚已发过" in double.plain
    # Its copies leave at once and may be among what `say` returns: the answer is staff1's.
    said = to(
        await room.say("/alert 美联储讲话前注意仓位,控制风险 3.5", user="staff1"), "console:staff1"
    )
    assert any("风险警示 #" in s.plain for s in said), "other words are another alert"
    async with room.app.db.read() as tx:
        assert len(await tx.broadcasts.recent()) == 2


async def test_an_alert_stands_out_in_each_clients_language(room: Harness) -> None:
    await room.say("/lang en", user="c3")
    await room.say("/alert 非农数据前波动加大", user="staff1")
    await room.idle()
    [zh] = [s.plain for s in to(room.sender.sent, "console:c1") if "非农" in s.plain]
    [en] = [s.plain for s in to(room.sender.sent, "console:c3") if "非农" in s.plain]
    assert zh.startswith("⚠️【盘中风险警示】\n") and en.startswith("⚠️ [Intraday risk warning]\n")


async def test_an_alert_is_withdrawn_once_in_each_clients_language(room: Harness) -> None:
    await room.say("/lang en", user="c3")
    await room.say("/alert 美联储讲话前注意仓位", user="staff1")
    await room.idle()
    async with room.app.db.read() as tx:
        [first] = await tx.broadcasts.recent()
    # The alert's own report to its author may come in the same moment: not the answer.
    said = await room.say(f"/alert withdraw {first.id}", user="staff1")
    [withdrawn] = [s for s in said if "已撤回风险警示" in s.plain]
    assert "3 位" in withdrawn.plain
    said = await room.say(f"/alert withdraw {first.id}", user="staff1")
    [again] = [s for s in said if "已经撤回过了" in s.plain]
    assert f"#{first.id}" in again.plain
    await room.idle()
    for user in ("c1", "c2"):
        assert sum("【撤回】" in s.plain for s in to(room.sender.sent, f"console:{user}")) == 1
    english = [s.plain for s in to(room.sender.sent, "console:c3")]
    assert sum("[Withdrawn]" in t for t in english) == 1
    assert not any("【撤回】" in t for t in english)
    async with room.app.db.read() as tx:
        followup = (await tx.broadcasts.recent())[0]
    said = await room.say(f"/alert withdraw {followup.id}", user="staff1")
    assert any("没有编号为" in s.plain for s in said), (
        "a withdrawal notice is no alert to take back"
    )


async def test_withdrawing_an_alert_that_does_not_exist_says_so(room: Harness) -> None:
    [missing] = await room.say("/alert withdraw 99", user="staff1")
    assert "没有编号为 #99 的风险警示" in missing.plain
    [usage] = await room.say("/alert withdraw", user="staff1")
    assert "用法" in usage.plain


# ---- sent at once, not at the senders' next look ----------------------------------------------


@pytest.fixture
async def slow_poll(make_settings: SettingsFactory, tmp_path: Path) -> Harness:
    """The room, with senders that look for rows of their own accord once an hour: what a
    chat command writes for others goes out because its handling wakes them, or never."""
    bot = Harness(make_settings(**market(tmp_path, open_=True)))
    bot.app.delivery.poll = 3600.0  # before the start: its first look sets the next
    await bot.start()
    await bot.say("/grant console:staff1 staff", user="admin")
    for user in ("c1", "c2", "c3"):
        await bot.say("/subscribe morning risk", user=user)
    yield bot  # type: ignore[misc]
    await bot.stop()


async def everyone_got(bot: Harness, words: str, what: str) -> None:
    def got() -> bool:
        return all(
            any(words in s.plain for s in to(bot.sender.sent, f"console:{user}"))
            for user in ("c1", "c2", "c3")
        )

    await eventually(got, timeout=5, what=what)


async def test_an_alert_and_its_withdrawal_go_out_without_waiting_for_a_poll(
    slow_poll: Harness,
) -> None:
    await slow_poll.say("/alert 非农数据前波动加大", user="staff1")
    await everyone_got(slow_poll, "非农", "the alert's copies")
    async with slow_poll.app.db.read() as tx:
        [alert] = await tx.broadcasts.recent()

    async def all_sent() -> bool:  # the withdrawal goes to those whose copy is `sent`
        async with slow_poll.app.db.read() as tx:
            return await tx.broadcasts.counts(alert.id) == {"sent": 3}

    await eventually(all_sent, what="the alert's outcomes")
    # Its report to its author now, not from the 5-second tick: that notice wakes the
    # senders too, and would carry the withdrawal's copies out with it.
    await slow_poll.app.broadcast_tick()
    await slow_poll.say(f"/alert withdraw {alert.id}", user="staff1")
    await everyone_got(slow_poll, "【撤回】", "the withdrawal notices")


async def test_a_broadcast_confirmed_in_the_chat_goes_out_without_waiting_for_a_poll(
    slow_poll: Harness,
) -> None:
    await slow_poll.say("/broadcast", user="staff1")
    await slow_poll.press("bc:t:morning", user="staff1")
    await slow_poll.press("bc:next", user="staff1")
    await slow_poll.say("黄金早盘关注 2650 支撑", user="staff1")
    await slow_poll.press("bc:now", user="staff1")
    await everyone_got(slow_poll, "2650", "the broadcast's copies")
