"""Non-farm day training: the invitation N days before a release, seats in the order people
said yes, the waiting list promoted when someone cancels, the reminder on the day, the export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from argparse import Namespace

import pytest

from bot.cli.training import run as export
from bot.core.commands import text_event
from tests.conftest import SettingsFactory
from tests.harness import Harness, Sent
from tests.support import eventually

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

STAFF = "console:staffroom"
RELEASE = dt.date(2027, 1, 8)  # the December 2026 payrolls


async def _open(make_settings: SettingsFactory, *, buttons: bool = True, **extra: str) -> Harness:
    settings = make_settings(
        STAFF_CHAT=STAFF, TRAINING_SEATS="1", TRAINING_PLACE="上海培训中心", **extra
    )
    bot = Harness(settings, buttons=buttons)
    await bot.start()
    await bot.say("/grant console:staff1 staff", user="admin")
    for user in ("c1", "c2", "c3"):
        await bot.say("/subscribe training", user=user)
    return bot


@pytest.fixture
async def school(make_settings: SettingsFactory) -> Harness:
    bot = await _open(make_settings)
    yield bot  # type: ignore[misc]
    await bot.stop()


@pytest.fixture
async def console(make_settings: SettingsFactory) -> Harness:
    """The same school on a channel without buttons (WeChat, QQ, the console)."""
    bot = await _open(make_settings, buttons=False)
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
    answered = [dt.datetime.fromisoformat(r["answered_at"]) for r in rows]
    assert all(a.utcoffset() == dt.timedelta(hours=8) for a in answered)  # Beijing, said so
    assert await export(school.settings, Namespace(date="2027-02-30")) == 2
    assert await export(school.settings, Namespace(date="2027-03-01")) == 2


async def test_a_forged_or_old_answer_is_refused(school: Harness) -> None:
    [stale] = await school.press("tr:2027-01-08:attend", user="c1")  # no session yet
    assert "失效" in stale.plain or "过期" in stale.plain
    [junk] = await school.press("tr:yesterday:attend", user="c1")
    assert "失效" in junk.plain or "过期" in junk.plain


async def test_staff_set_a_sessions_place_seats_and_time(school: Harness) -> None:
    [done] = await school.say(f"/training set {RELEASE} seats 50", user="staff1")
    assert "座位数:50" in done.plain and "seats" not in done.plain
    [done] = await school.say(f"/training set {RELEASE} place 北京路 88 号", user="staff1")
    assert "地点:北京路 88 号" in done.plain
    [done] = await school.say(f"/training set {RELEASE} time 19:00", user="staff1")
    assert "时间:19:00" in done.plain
    [bad] = await school.say(f"/training set {RELEASE} time 25:99", user="staff1")
    assert "用法" in bad.plain
    async with school.app.db.read() as tx:
        session = await tx.training.session(RELEASE)
    assert session is not None and (session.seats, session.place) == (50, "北京路 88 号")


async def invite(bot: Harness, release: dt.date = RELEASE) -> list[Sent]:
    """The invitation's morning, on the bot's own clock too; what went out."""
    before = len(bot.sender.sent)
    day = release - dt.timedelta(days=bot.app.training.invite_days)
    bot.clock.set(morning(bot, day))
    await bot.app.fire("training", "-", morning(bot, day))
    await bot.idle()
    return bot.sender.sent[before:]


async def test_staff_hear_how_many_clients_the_invitation_went_to(school: Harness) -> None:
    sent = await invite(school)
    [told] = [s for s in sent if s.chat == STAFF]
    assert "已发给 3 位订阅客户" in told.plain
    async with school.app.db.read() as tx:
        session = await tx.training.session(RELEASE)
        assert session is not None and session.broadcast_id is not None
        broadcast = await tx.broadcasts.get(session.broadcast_id)
    assert broadcast is not None and broadcast.recipients == 3


@pytest.mark.parametrize(
    ("invite_days", "sent_on"),
    [("3", dt.date(2027, 1, 5)), ("10", dt.date(2026, 12, 29))],  # across the year end too
)
async def test_the_audit_row_says_the_invitation_went_out_that_morning(
    make_settings: SettingsFactory, invite_days: str, sent_on: dt.date
) -> None:
    bot = await _open(make_settings, TRAINING_INVITE_DAYS=invite_days)
    try:
        sent = await invite(bot)
        assert sum(1 for s in sent if "非农" in s.plain and s.chat != STAFF) == 3
        async with bot.app.db.read() as tx:
            [row] = await tx.audit.recent("broadcast.create")
        send_at = dt.datetime.fromisoformat(row["detail"]["send_at"])
        assert send_at.astimezone(bot.app.rhythm.tz).date() == sent_on
    finally:
        await bot.stop()


async def test_a_client_who_chose_english_is_invited_in_english(school: Harness) -> None:
    await school.say("/lang en", user="c3")
    sent = await invite(school)
    [en] = [s for s in sent if s.chat == "console:c3"]
    [zh] = [s for s in sent if s.chat == "console:c1"]
    assert "Non-farm day training" in en.plain and "非农" not in en.plain
    assert [b.label for row in en.buttons for b in row] == ["Attend", "Maybe", "Not this time"]
    assert "非农数据日培训邀请" in zh.plain and "上海培训中心" in zh.plain


async def test_words_answer_the_invitation_later_on_a_channel_without_buttons(
    console: Harness,
) -> None:
    await invite(console)
    await console.say("菜单", user="c1")  # other talk in between: the menu is the last options
    await console.say("我的订阅", user="c2")
    console.clock.advance(hours=30)

    [seat] = await console.say("参加", user="c1")
    assert "保留座位" in seat.plain and "1. 改为不参加" in seat.plain
    [wait] = await console.say("参加", user="c2")
    assert "候补" in wait.plain and "改为不参加" in wait.plain

    console.clock.advance(hours=5)
    await console.say("菜单", user="c1")
    sent = await console.say("改为不参加", user="c1")
    [mine] = [s for s in sent if s.chat == "console:c1"]
    assert "不参加" in mine.plain and "改为参加" in mine.plain
    [told] = [s for s in sent if s.chat == "console:c2"]
    assert "有空位了" in told.plain and "改为不参加" in told.plain

    # The option offered with the news works by its number.
    sent = await console.say("1", user="c2")
    assert any("记下不参加" in s.plain for s in sent)
    [listing] = await console.say("/training", user="staff1")
    assert "座位 0/1" in listing.plain and "候补 0" in listing.plain


async def test_an_invitation_refused_on_telegram_comes_with_its_options_on_the_next_address(
    console: Harness,
) -> None:
    """c1 reads English and last wrote from Telegram, then blocked the bot there: the
    invitation is tried again in the console, numbered in English, and "1" answers it."""
    tg = "telegram:c1"
    await console.say("/lang en", user="c1")
    async with console.app.db.write() as tx:
        c1 = await tx.clients.by_address("console:c1")
        assert c1 is not None and await tx.links.attach(c1.id, tg) == "linked"
    await console.send(text_event("telegram", tg, tg, "hello"))  # Telegram is the latest
    console.telegram.blocked.add(tg)
    before = len(console.sender.sent)
    await invite(console)

    async def rerouted() -> list[Sent]:  # the refusal, then the second try, are written
        await console.idle()
        return [s for s in console.sender.sent[before:] if s.chat == "console:c1"]

    [again] = await eventually(rerouted, what="the invitation on the next address")
    assert "Non-farm day training" in again.plain
    assert "1. Attend\n2. Maybe\n3. Not this time\n(reply with a number" in again.plain
    assert not [s for s in console.sender.sent[before:] if s.chat == tg]
    [seat] = await console.say("1", user="c1")
    assert "Your seat is kept" in seat.plain
    async with console.app.db.read() as tx:
        answers = await tx.training.attendees(RELEASE)
    assert [(chat, status) for _name, chat, _answer, status, _at in answers] == [
        ("console:c1", "seat")
    ]


async def test_the_words_are_left_to_the_faq_without_an_open_invitation(
    console: Harness,
) -> None:
    replies = await console.text("不参加", user="c1")  # no invitation yet: the FAQ answers
    assert "记下" not in replies and "您想问的是" in replies
    await invite(console)
    replies = await console.text("decline", user="outsider")  # never invited
    assert "Noted" not in replies and "记下" not in replies
    assert "已记下不参加" in await console.text("not attend", user="c1")
    async with console.app.db.read() as tx:
        answers = await tx.training.attendees(RELEASE)
    assert [(chat, answer) for _name, chat, answer, _status, _at in answers] == [
        ("console:c1", "no")
    ]


async def test_more_seats_move_the_waiting_list_up_in_order_and_tell_them(school: Harness) -> None:
    await invite(school)
    await school.say("/lang en", user="c3")
    await school.press(f"tr:{RELEASE}:attend", user="c1")
    await school.press(f"tr:{RELEASE}:attend", user="c2")
    await school.press(f"tr:{RELEASE}:attend", user="c3")

    [refused] = await school.say(f"/training set {RELEASE} seats 0", user="staff1")
    assert "用法" in refused.plain

    sent = await school.say(f"/training set {RELEASE} seats 2", user="staff1")
    [staff, told] = sent
    assert "座位数:2" in staff.plain and "补上 1 位" in staff.plain
    assert told.chat == "console:c2" and "有空位了" in told.plain

    [below] = await school.say(f"/training set {RELEASE} seats 1", user="staff1")
    assert "已有 2 人占座" in below.plain
    sent = await school.say(f"/training set {RELEASE} seats 5", user="staff1")
    [staff, told] = sent
    assert told.chat == "console:c3" and "A seat freed up" in told.plain
    assert "Change to not attending" in [b.label for row in told.buttons for b in row]
    [listing] = await school.say("/training", user="staff1")
    assert "座位 3/5" in listing.plain and "候补 0" in listing.plain


async def test_the_one_freed_seat_goes_to_the_first_waiting_in_their_language(
    school: Harness,
) -> None:
    await invite(school)
    await school.say("/lang en", user="c2")
    for user in ("c1", "c2", "c3"):
        await school.press(f"tr:{RELEASE}:attend", user=user)
    sent = await school.press(f"tr:{RELEASE}:no", user="c1")
    [told] = [s for s in sent if s.chat != "console:c1"]
    assert told.chat == "console:c2" and "A seat freed up" in told.plain


async def test_a_client_asks_for_the_invitation_again_days_later(console: Harness) -> None:
    """/training for a client is their own invitation with its options, not a staff refusal:
    the question can be answered later, and an answer changed, on a channel without buttons."""
    assert "没有待回复的培训邀请" in await console.text("/training", user="c1")
    await invite(console)
    for user in ("c1", "c2"):
        await console.say("菜单", user=user)  # the invitation is no longer the last options
    console.clock.advance(hours=40)

    [again] = await console.say("/training", user="c1")
    assert "还没有回复" in again.plain and "上海培训中心" in again.plain
    assert "1. 参加" in again.plain and "3. 不参加" in again.plain
    [seat] = await console.say("1", user="c1")
    assert "保留座位" in seat.plain

    await console.say("菜单", user="c1")
    [mine] = await console.say("/training", user="c1")
    assert "保留座位" in mine.plain and "1. 改为不参加" in mine.plain
    await console.say("1", user="c1")
    [now] = await console.say("/training", user="c1")
    assert "记下不参加" in now.plain and "1. 改为参加" in now.plain
    [listing] = await console.say("/training", user="staff1")  # staff still get the list
    assert "座位 0/1" in listing.plain
