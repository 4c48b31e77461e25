"""Non-farm day training: the invitation N days before a release, seats in the order people
said yes, the waiting list promoted when someone cancels, the reminder on the day, the export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from argparse import Namespace

import pytest

from bot.cli.training import run as export
from tests.conftest import SettingsFactory
from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

STAFF = "console:staffroom"
RELEASE = dt.date(2027, 1, 8)  # the December 2026 payrolls


@pytest.fixture
async def school(make_settings: SettingsFactory) -> Harness:
    bot = Harness(
        make_settings(STAFF_CHAT=STAFF, TRAINING_SEATS="1", TRAINING_PLACE="上海培训中心")
    )
    await bot.start()
    await bot.say("/grant console:staff1 staff", user="admin")
    for user in ("c1", "c2", "c3"):
        await bot.say("/subscribe training", user=user)
    yield bot  # type: ignore[misc]
    await bot.stop()


def morning(bot: Harness, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 30), tzinfo=bot.app.rhythm.tz)


async def test_invitation_seats_waiting_list_reminder_and_export(
    school: Harness,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = len(school.sender.sent)
    await school.app.fire("training", "-", morning(school, RELEASE - dt.timedelta(days=4)))
    await school.app.fire("training", "-", morning(school, RELEASE - dt.timedelta(days=3)))
    await school.app.fire("training", "-", morning(school, RELEASE - dt.timedelta(days=3)))
    await school.idle()
    invites = [
        s
        for s in school.sender.sent[before:]
        if "非农" in s.plain and s.chat.endswith(("c1", "c2", "c3"))
    ]
    assert sorted(s.chat for s in invites) == ["console:c1", "console:c2", "console:c3"]
    assert invites[0].callbacks == [
        f"tr:{RELEASE}:attend",
        f"tr:{RELEASE}:maybe",
        f"tr:{RELEASE}:no",
    ]
    assert "21:30" in invites[0].plain and "上海培训中心" in invites[0].plain

    [seat] = await school.press(f"tr:{RELEASE}:attend", user="c1")
    assert "保留座位" in seat.plain
    [wait] = await school.press(f"tr:{RELEASE}:attend", user="c2")
    assert "候补" in wait.plain
    await school.press(f"tr:{RELEASE}:maybe", user="c3")
    sent = await school.press(f"tr:{RELEASE}:no", user="c1")
    assert any(s.chat == "console:c2" and "有空位了" in s.plain for s in sent)
    [listing] = await school.say("/training", user="staff1")
    assert "座位 1/1" in listing.plain and "候补 0" in listing.plain

    before = len(school.sender.sent)
    await school.app.fire("training", "-", morning(school, RELEASE))
    await school.app.fire("training", "-", morning(school, RELEASE))
    await school.idle()
    reminded = [s.chat for s in school.sender.sent[before:] if "今晚" in s.plain]
    assert reminded == ["console:c2"]

    capsys.readouterr()
    assert await export(school.settings, Namespace(date=RELEASE.isoformat())) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["address"], r["status"]) for r in rows} == {
        ("console:c1", "none"), ("console:c2", "seat"), ("console:c3", "none"),
    }  # fmt: skip
    assert await export(school.settings, Namespace(date="2027-02-30")) == 2
    assert await export(school.settings, Namespace(date="2027-03-01")) == 2


async def test_a_forged_or_old_answer_is_refused(school: Harness) -> None:
    [stale] = await school.press("tr:2027-01-08:attend", user="c1")  # no session yet
    assert "失效" in stale.plain or "过期" in stale.plain
    [junk] = await school.press("tr:yesterday:attend", user="c1")
    assert "失效" in junk.plain or "过期" in junk.plain


async def test_staff_set_a_sessions_place_seats_and_time(school: Harness) -> None:
    [done] = await school.say(f"/training set {RELEASE} seats 50", user="staff1")
    assert "50" in done.plain
    await school.say(f"/training set {RELEASE} place 北京路 88 号", user="staff1")
    [bad] = await school.say(f"/training set {RELEASE} time 25:99", user="staff1")
    assert "用法" in bad.plain
    async with school.app.db.read() as tx:
        session = await tx.training.session(RELEASE)
    assert session is not None and (session.seats, session.place) == (50, "北京路 88 号")
