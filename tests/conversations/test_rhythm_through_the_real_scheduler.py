"""APScheduler itself on a fake clock: the real AsyncIOScheduler, its cron triggers and its
executor decide when; the clock jumps from one fire time to the next, so four days of the
firm's rhythm pass in a second. Two processes share the database the whole time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.executors import base as executor_base
from apscheduler.schedulers import base as scheduler_base
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tests.conftest import SettingsFactory
from tests.fakes.clock import FakeTime
from tests.harness import Harness, Sent

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

STAFF = "console:staffroom"
TZ = dt.timezone(dt.timedelta(hours=8), "CST")


def beijing(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTime]:
    """APScheduler reads the time with `datetime.now(tz)` in two modules: both see ours."""
    fake = FakeTime(beijing("2026-09-29", "07:00"))

    class Now(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Now:  # type: ignore[override]
            return fake().astimezone(tz)  # type: ignore[return-value]

    monkeypatch.setattr(scheduler_base, "datetime", Now)
    monkeypatch.setattr(executor_base, "datetime", Now)
    yield fake


class Driver:
    """Both processes' schedulers, woken at each next fire time on the fake clock."""

    def __init__(self, clock: FakeTime, bots: list[Harness]) -> None:
        self.clock, self.bots = clock, bots
        self.pending = 0
        self.done = asyncio.Event()
        self.errors: list[Any] = []
        for scheduler in self.schedulers:
            scheduler.add_listener(self._count, EVENT_JOB_SUBMITTED)
            scheduler.add_listener(self._count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    @property
    def schedulers(self) -> list[AsyncIOScheduler]:
        return [b.app.scheduler for b in self.bots if b.app.scheduler is not None]

    def _count(self, event: Any) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            self.pending += 1
            return
        self.pending -= 1
        if event.code == EVENT_JOB_ERROR:
            self.errors.append(event.exception)
        if self.pending == 0:
            self.done.set()

    async def run_until(self, end: dt.datetime) -> int:
        """Every fire up to `end`; returns how many fire times passed."""
        fires = 0
        while True:
            due = min(j.next_run_time for s in self.schedulers for j in s.get_jobs())
            if due > end:
                self.clock.set(end)
                return fires
            self.clock.set(due + dt.timedelta(seconds=1))
            self.done.clear()
            for scheduler in self.schedulers:
                scheduler.wakeup()
            await asyncio.sleep(0)  # wakeup runs on the loop; it submits the due jobs
            async with asyncio.timeout(10):
                while self.pending:
                    await self.done.wait()
            for bot in self.bots:
                await bot.idle()
            fires += 1


@pytest.fixture
async def two(
    make_settings: SettingsFactory, clock: FakeTime, tmp_path: Path
) -> Iterator[list[Harness]]:
    settings = make_settings(
        STAFF_CHAT=STAFF,
        REPORT_RECIPIENTS="console:manager",
        CALENDAR_OVERRIDES=str(tmp_path / "over.yaml"),
        TIMEZONE="Asia/Shanghai",
    )
    bots = [Harness(settings, clock=clock), Harness(settings, clock=clock)]
    # Either process may deliver a row: one record of what reached the chats.
    bots[1].sender.sent = bots[1].telegram.sent = bots[0].sender.sent
    for bot in bots:
        await bot.start()
    yield bots  # type: ignore[misc]
    for bot in bots:
        await bot.stop()


def to(sent: list[Sent], chat: str, needle: str) -> list[str]:
    return [s.plain for s in sent if s.chat == chat and needle in s.plain]


async def test_four_days_of_the_rhythm_through_the_real_scheduler(
    two: list[Harness], clock: FakeTime
) -> None:
    a, _ = two  # b only runs its scheduler; the fires are shared
    await a.say("/grant console:staff1 staff", user="admin")
    await a.say("/subscribe morning evening training", user="c1")
    for day, slot, text in (
        ("2026-09-29", "morning", "周二早盘:黄金关注 2650 支撑"),
        ("2026-09-29", "evening", "周二晚盘:白银震荡"),
        ("2026-09-30", "morning", "周三早盘:节前减仓观望"),
    ):
        [saved] = await a.say(f"/note {slot} --date {day} {text}", user="staff1")
        assert "风险提示" in saved.plain
    [holiday] = await a.say("/note morning --date 2026-10-01 国庆早盘(休市)", user="staff1")
    assert "2026-10-01 不是交易日" in holiday.plain and "没有保存" in holiday.plain
    assert "将于" not in holiday.plain, "one true thing: it is not kept, so not 'will be sent'"
    assert "/note morning --date 2026-10-08" in holiday.plain, "the next trading day"
    driver = Driver(clock, two)

    # Tuesday to Wednesday noon: two notes out, the training invitation three days ahead.
    assert await driver.run_until(beijing("2026-09-30", "12:00")) >= 10
    sent = a.sender.sent
    assert len(to(sent, "console:c1", "2650")) == 1 and len(to(sent, "console:c1", "白银")) == 1
    assert len(to(sent, "console:c1", "节前减仓")) == 1
    [invite] = [s for s in sent if s.chat == "console:c1" and "非农数据日培训邀请" in s.plain]
    assert "2026-10-02 20:30" in invite.plain, "the release in Beijing time, US summer time"
    assert "tr:2026-10-02:attend" in invite.callbacks
    [seat] = await a.press("tr:2026-10-02:attend", user="c1")
    assert "已为您保留座位" in seat.plain

    # Wednesday evening has no note; Thursday is National Day; Friday is the release day.
    await driver.run_until(beijing("2026-10-02", "12:00"))
    assert driver.errors == []
    sent = a.sender.sent
    assert len(to(sent, STAFF, "还没有写好内容")) == 1, "one reminder before the empty slot"
    assert len(to(sent, STAFF, "这次没有发送")) == 1, "and one alert at it"
    assert to(sent, "console:c1", "国庆早盘") == [], "a holiday sends no note"
    async with a.app.db.read() as tx:
        assert await tx.rhythm.note("morning", dt.date(2026, 10, 1)) is None
    assert len(to(sent, "console:manager", "2026-09 客户服务月报")) == 1
    assert len(to(sent, STAFF, "2026-09 客户服务月报")) == 1
    assert len(to(sent, "console:c1", "今晚")) == 1, "the attendee is reminded on the day"
    async with a.app.db.read() as tx:
        casts = await tx.broadcasts.recent()
    assert len(casts) == 4, "three notes and one invitation, each started by one process"
    for text in {s.text for s in sent if s.chat == "console:c1"}:
        assert sum(s.text == text for s in sent if s.chat == "console:c1") == 1, text


@pytest.fixture
async def firm(make_settings: SettingsFactory, clock: FakeTime, tmp_path: Path) -> Harness:
    """One process, not yet started: tests start (and restart) it when the story says."""
    settings = make_settings(
        STAFF_CHAT=STAFF, CALENDAR_OVERRIDES=str(tmp_path / "over.yaml"), TIMEZONE="Asia/Shanghai"
    )
    bot = Harness(settings, clock=clock)
    yield bot  # type: ignore[misc]
    if not bot.stopped:
        await bot.stop()


async def written_before_the_first_run(bot: Harness, clock: FakeTime) -> int:
    """At 15:00 staff write tonight's note in `bot chat`; no slot has ever fired. Returns
    how many messages went out so far."""
    clock.set(beijing("2026-09-29", "15:00"))
    await bot.start()
    await bot.say("/grant console:staff1 staff", user="admin")
    await bot.say("/subscribe morning evening", user="c1")
    [saved] = await bot.say("/note evening 周二晚盘:白银震荡", user="staff1")
    assert "2026-09-29 20:00" in saved.plain
    await bot.stop()
    return len(bot.sender.sent)


async def test_a_note_written_before_the_first_run_is_reported_when_its_slot_was_missed(
    firm: Harness, clock: FakeTime
) -> None:
    before = await written_before_the_first_run(firm, clock)
    clock.set(beijing("2026-09-30", "08:00"))  # `bot run` first starts the next morning
    await firm.start()
    await Driver(clock, [firm]).run_until(beijing("2026-09-30", "12:00"))
    await firm.idle()
    sent = firm.sender.sent[before:]
    assert to(sent, "console:c1", "白银震荡") == [], "12 hours late: past the grace"
    for chat in (STAFF, "console:staff1"):  # staff on duty and the note's author
        [told] = to(sent, chat, "白银震荡")
        assert "2026-09-29 20:00" in told and "没有发出" in told and "/broadcast" in told
    async with firm.app.db.read() as tx:
        assert await tx.rhythm.fired("note.evening", beijing("2026-09-29", "20:00")) == "missed"
    await firm.restart()  # told once, not at every start
    await firm.idle()
    assert len(to(firm.sender.sent[before:], STAFF, "白银震荡")) == 1


async def test_a_note_written_before_the_first_run_goes_out_late_within_the_grace(
    firm: Harness, clock: FakeTime
) -> None:
    await written_before_the_first_run(firm, clock)
    clock.set(beijing("2026-09-29", "20:10"))  # started ten minutes after the slot
    await firm.start()
    await Driver(clock, [firm]).run_until(beijing("2026-09-29", "23:00"))
    await firm.idle()
    assert len(to(firm.sender.sent, "console:c1", "白银震荡")) == 1
    assert len(to(firm.sender.sent, STAFF, "晚盘操作建议已发出")) == 1
    async with firm.app.db.read() as tx:
        assert await tx.rhythm.fired("note.evening", beijing("2026-09-29", "20:00")) == "late"
