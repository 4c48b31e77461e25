"""Morning and evening notes on trading days, driven with the fire times the scheduler would
use: once per fire whatever runs it, never on a closed or unknown day, staff reminded and told,
late within the grace window after a restart, else recorded as missed."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from broadcasts.trading_calendar import save_override
from storage.schema import clients
from tests.conftest import SettingsFactory
from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

STAFF = "console:staffroom"
DAY = dt.date(2026, 12, 3)  # a Thursday, a trading day


@pytest.fixture
async def firm(make_settings: SettingsFactory, tmp_path: Path) -> Harness:
    bot = Harness(make_settings(STAFF_CHAT=STAFF, CALENDAR_OVERRIDES=str(tmp_path / "over.yaml")))
    await bot.start()
    await bot.say("/grant console:staff1 staff", user="admin")
    await bot.say("/subscribe morning", user="c1")
    yield bot  # type: ignore[misc]
    await bot.stop()


def at(bot: Harness, day: dt.date, hhmm: str, seconds: int = 5) -> dt.datetime:
    when = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=bot.app.rhythm.tz)
    return when + dt.timedelta(seconds=seconds)


async def told(bot: Harness, before: int, chat: str = STAFF) -> list[str]:
    await bot.idle()
    return [s.plain for s in bot.sender.sent[before:] if s.chat == chat]


async def test_a_written_note_goes_out_once_at_its_slot(firm: Harness) -> None:
    [saved] = await firm.say(f"/note morning --date {DAY} 黄金早盘关注 2650 支撑", user="staff1")
    assert "08:30" in saved.plain and "1 位" in saved.plain and "风险提示" in saved.plain
    before = len(firm.sender.sent)
    slot = at(firm, DAY, "08:30")
    await asyncio.gather(
        firm.app.fire("note", "morning", slot), firm.app.fire("note", "morning", slot)
    )
    await firm.app.fire("note", "morning", slot + dt.timedelta(seconds=20))
    async with firm.app.db.read() as tx:
        [b] = await tx.broadcasts.recent()
        note = await tx.rhythm.note("morning", DAY)
    assert b.audience == {"topics": ["morning"]} and note is not None and note.broadcast_id == b.id
    assert any("已发出" in t for t in await told(firm, before))
    clients = [s.plain for s in firm.sender.sent if s.chat == "console:c1" and "2650" in s.plain]
    assert len(clients) == 1


async def test_no_note_means_a_reminder_then_an_alert_and_nothing_empty(firm: Harness) -> None:
    before = len(firm.sender.sent)
    await firm.app.fire("remind", "morning", at(firm, DAY, "08:00"))
    await firm.app.fire("remind", "morning", at(firm, DAY, "08:00", 30))
    await firm.app.fire("note", "morning", at(firm, DAY, "08:30"))
    texts = await told(firm, before)
    assert sum("还没有写好内容" in t for t in texts) == 1
    assert sum("没有发送" in t for t in texts) == 1
    async with firm.app.db.read() as tx:
        assert await tx.broadcasts.recent() == []


async def test_closed_and_unknown_days_send_nothing_and_overrides_count_at_once(
    firm: Harness, tmp_path: Path
) -> None:
    holiday = dt.date(2026, 10, 1)
    async with firm.app.db.write() as tx:
        await tx.rhythm.save_note("morning", holiday, "国庆快乐", "console:staff1")
        await tx.rhythm.save_note("morning", dt.date(2027, 1, 4), "新年第一周", "console:staff1")
    before = len(firm.sender.sent)
    await firm.app.fire("note", "morning", at(firm, holiday, "08:30"))
    await firm.app.fire("note", "morning", at(firm, dt.date(2027, 1, 4), "08:30"))
    assert any("交易日历没有数据" in t for t in await told(firm, before))
    async with firm.app.db.read() as tx:
        assert await tx.broadcasts.recent() == []
    save_override(tmp_path / "over.yaml", "2026-10-01", "trading")  # added while running
    await firm.app.fire("note", "evening", at(firm, holiday, "20:00"))  # no evening note
    async with firm.app.db.write() as tx:
        await tx.rhythm.save_note("evening", holiday, "晚盘", "console:staff1")
    await firm.app.fire("note", "evening", at(firm, holiday, "20:00", 30))
    async with firm.app.db.read() as tx:
        assert await tx.broadcasts.recent() == [], "that fire was already recorded"


async def test_after_a_restart_a_slot_goes_out_late_within_grace_else_is_missed(
    firm: Harness,
) -> None:
    from broadcasts.notes import catch_up

    yesterday = DAY - dt.timedelta(days=1)
    async with firm.app.db.write() as tx:  # the bot ran yesterday's slots
        for slot, hhmm in (("morning", "08:30"), ("evening", "20:00")):
            await tx.rhythm.claim_fire(f"note.{slot}", at(firm, yesterday, hhmm, 0), "done")
        await tx.rhythm.save_note("morning", DAY, "早盘", "console:staff1")
        outs = await catch_up(tx, firm.app.translator, firm.app.rhythm, at(firm, DAY, "08:40"))
        assert any("已发出" in o.text for o in outs), "10 minutes late: still sent"
        late = await tx.rhythm.fired("note.morning", at(firm, DAY, "08:30", 0))
        outs = await catch_up(tx, firm.app.translator, firm.app.rhythm, at(firm, DAY, "22:30"))
        missed = await tx.rhythm.fired("note.evening", at(firm, DAY, "20:00", 0))
    assert late == "late" and missed == "missed"
    assert any("已超过补发时限" in o.text for o in outs)


async def test_notes_are_screened_when_written(firm: Harness) -> None:
    [refused] = await firm.say(f"/note evening --date {DAY} 明天保证收益", user="staff1")
    assert "保证收益" in refused.plain
    assert "这条提示没有保存" in refused.plain and "广播" not in refused.plain
    [client] = await firm.say("/note morning 你好", user="c1")
    assert "仅限" in client.plain
    [listing] = await firm.say("/schedule", user="staff1")
    assert "早盘操作建议" in listing.plain


async def test_a_note_refused_when_due_speaks_of_the_note(firm: Harness) -> None:
    async with firm.app.db.write() as tx:  # written before the screen learnt the phrase
        await tx.rhythm.save_note("morning", DAY, "明天保证收益", "console:staff1")
    before = len(firm.sender.sent)
    await firm.app.fire("note", "morning", at(firm, DAY, "08:30"))
    [report] = await told(firm, before)
    assert report.startswith("⚠️ 早盘操作建议没有发出:其中的“保证收益”") and "广播" not in report


async def test_a_note_for_a_slot_that_has_passed_today_is_not_kept(firm: Harness) -> None:
    [passed] = await firm.say("/note morning 早盘", user="staff1")  # 09:00, the slot was 08:30
    assert "08:30" in passed.plain and "已经过了" in passed.plain and "将于" not in passed.plain
    async with firm.app.db.read() as tx:
        assert await tx.rhythm.upcoming_notes(DAY - dt.timedelta(days=2)) == []


async def test_notes_of_days_the_bot_was_down_are_reported_once(firm: Harness) -> None:
    from broadcasts.notes import catch_up

    earlier = DAY - dt.timedelta(days=1)
    async with firm.app.db.write() as tx:  # written for Wednesday; the bot is down till Friday
        await tx.rhythm.save_note("morning", earlier, "周三早盘", "console:staff1")
        await tx.rhythm.save_note("evening", earlier, "周三晚盘", "console:staff1")
        friday = at(firm, DAY + dt.timedelta(days=1), "09:00")
        outs = await catch_up(tx, firm.app.translator, firm.app.rhythm, friday)
        again = await catch_up(tx, firm.app.translator, firm.app.rhythm, friday)
        runs = [await tx.rhythm.fired(f"note.{s}", at(firm, earlier, h, 0))
                for s, h in (("morning", "08:30"), ("evening", "20:00"))]  # fmt: skip
    assert runs == ["missed", "missed"] and again == []
    for text in ("周三早盘", "周三晚盘"):
        told = {o.chat for o in outs if text in o.text and "没有发出" in o.text}
        assert told == {STAFF, "console:staff1"}, text


def test_fire_times_across_midnight_month_and_year_ends(firm: Harness) -> None:
    from apscheduler.triggers.cron import CronTrigger

    tz = firm.app.rhythm.tz
    jobs = {job.id: job for job in firm.app.scheduler.get_jobs()}  # type: ignore[union-attr]
    assert set(jobs) == {
        "note.morning", "remind.morning", "note.evening", "remind.evening",
        "visits", "calendar", "training", "monthly", "retention",
    }  # fmt: skip
    trigger = jobs["remind.morning"].trigger
    assert isinstance(trigger, CronTrigger)
    late = dt.datetime(2026, 12, 31, 23, 59, tzinfo=tz)
    assert trigger.get_next_fire_time(None, late) == dt.datetime(2027, 1, 1, 8, 0, tzinfo=tz)
    purge = jobs["retention"].trigger  # the quiet hour (RETENTION_AT)
    assert purge.get_next_fire_time(None, late) == dt.datetime(2027, 1, 1, 3, 30, tzinfo=tz)
    month_end = dt.datetime(2026, 11, 30, 20, 1, tzinfo=tz)
    assert jobs["note.evening"].trigger.get_next_fire_time(None, month_end) == dt.datetime(
        2026, 12, 1, 20, 0, tzinfo=tz
    )
    just_after_midnight = dt.datetime(2026, 12, 3, 0, 5, tzinfo=tz)
    assert firm.app.rhythm.last_fire("evening", just_after_midnight) == dt.datetime(
        2026, 12, 2, 20, 0, tzinfo=tz
    )


async def test_return_visits_ask_new_clients_twice_at_most_and_keep_the_answer(
    firm: Harness,
) -> None:
    async with firm.app.db.write() as tx:  # c1 and c2 came 3 days ago; staff1 is no client
        c2, _ = await tx.clients.get_or_create(
            "console:c2", language="en", display_name=None, username=None
        )
        await tx.conn.execute(
            clients.update().values(created_at=tx.now() - dt.timedelta(days=3, hours=1))
        )
    now = firm.app.db.clock()
    before = len(firm.sender.sent)
    await firm.app.fire("visits", "-", now)
    await firm.app.fire("visits", "-", now)  # the same day's fire: nothing more
    await firm.idle()
    asked = [s for s in firm.sender.sent[before:] if s.callbacks[:1] == ["rv:3:1"]]
    assert sorted(s.chat for s in asked) == ["console:c1", "console:c2"]
    assert "回访员" in next(s.plain for s in asked if s.chat == "console:c1")
    assert "return visit" in next(s.plain for s in asked if s.chat == "console:c2")
    await firm.press("rv:3:4", user="c1")
    await firm.say("客服回复可以再快一点", user="c1")
    assert "已经评价" in (await firm.press("rv:3:5", user="c1"))[0].plain
    async with firm.app.db.read() as tx:
        c1 = await tx.clients.by_address("console:c1")
        assert await tx.return_visits.of(c1.id) == [  # type: ignore[union-attr]
            (3, 4, "客服回复可以再快一点", (await tx.return_visits.of(c1.id))[0][3])  # type: ignore[union-attr]
        ]
    before = len(firm.sender.sent)
    later = now + dt.timedelta(days=2, minutes=1)
    await firm.app.fire("visits", "-", later)
    await firm.app.fire("visits", "-", later + dt.timedelta(days=3))
    await firm.idle()
    again = [s.chat for s in firm.sender.sent[before:] if s.callbacks[:1] == ["rv:3:1"]]
    assert again == ["console:c2"], "asked once more, never again; c1 answered"
    [file] = await firm.say(f"/client {c2.id}", user="staff1")
    assert "回访" in file.plain


async def test_staff_hear_weekly_in_december_while_next_year_is_unknown(firm: Harness) -> None:
    before = len(firm.sender.sent)
    tz = firm.app.rhythm.tz
    await firm.app.fire("calendar", "-", dt.datetime(2026, 11, 30, 9, 0, tzinfo=tz))  # not yet
    await firm.app.fire("calendar", "-", dt.datetime(2026, 12, 1, 9, 0, tzinfo=tz))
    await firm.app.fire("calendar", "-", dt.datetime(2026, 12, 2, 9, 0, tzinfo=tz))  # same week
    await firm.app.fire("calendar", "-", dt.datetime(2026, 12, 8, 9, 0, tzinfo=tz))
    texts = await told(firm, before)
    assert sum("2027" in t for t in texts) == 2
