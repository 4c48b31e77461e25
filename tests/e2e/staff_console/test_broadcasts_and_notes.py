"""Broadcasts and notes in the staff console: what is composed on a page runs the chat's own
`/broadcast` and `/note` as the staff member, so the preview, the compliance screen and the
role checks are the chat's; the pages show the broadcasts with their delivery and the coming
days' note slots on the trading calendar."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.commands import text_event
from tests.conftest import SettingsFactory
from tests.e2e.staff_console.conftest import Browser, ConsoleBot, signed_in
from tests.fakes.clock import FakeTime
from tests.harness import RecordingSender
from tests.support import eventually, free_port

pytestmark = pytest.mark.dated  # the console's clock is pinned to 2026-12-01 (a trading day)

Browsers = Callable[[], Awaitable[Browser]]
ALICE = "console:alice"


async def subscribed_client(console: ConsoleBot) -> RecordingSender:
    """Alice on the console channel, subscribed to the morning notes."""
    client = RecordingSender()
    console.senders.append(client)
    await console.restart()
    receipt = await console.app.inbox.receive(text_event("console", ALICE, ALICE, "订阅早盘"))
    assert receipt is not None
    async with console.app.db.read() as tx:
        alice = await tx.clients.by_address(ALICE)
        assert alice is not None and "morning" in await tx.subscriptions.of(alice.id)
    return client


async def press(b: Browser, page: str, data: str) -> tuple[int, str, str]:
    """Press a button of the page as the browser would: its form names where to come back."""
    back = r'\s*<input type="hidden" name="back" value="([^"]+)"'
    form = re.search(rf'name="data" value="{re.escape(data)}">' + back, page)
    assert form is not None, page
    return await b.post("/press", {"data": data, "back": form.group(1)}, page=page)


async def test_staff_compose_preview_confirm_and_follow_a_broadcast(
    console: ConsoleBot, browser: Browsers
) -> None:
    client = await subscribed_client(console)
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/broadcasts/new")
    assert 'value="morning"' in page
    status, page, url = await b.post(
        "/broadcasts/new", {"topic": "morning", "text": "今日关注<黄金>回调。"}, page=page
    )
    assert status == 200 and "done=" in url
    assert "将发送给 1 位客户" in page  # the chat's own preview, with the audience count
    assert "今日关注&lt;黄金&gt;回调。" in page and "【风险提示】" in page
    assert 'value="bc:now"' in page and 'value="req:cancel"' in page
    assert 'value="bc:later"' not in page  # the form gives the time, not a chat question

    status, page, url = await press(b, page, "bc:now")
    assert status == 200 and url.split("?")[0].endswith("/broadcasts"), url
    assert "已开始发送给 1 位客户" in page
    found = re.search(r"<td>(\d+)</td>", page)
    assert found is not None, page

    async def delivered() -> bool:
        return any("黄金" in s.plain for s in client.sent if s.chat == ALICE)

    await eventually(delivered, what="the broadcast on the client's channel")

    async def shown_done() -> bool:
        _, rows = await b.get("/broadcasts", headers={"HX-Request": "true"})
        return "已完成" in rows and "已送达 1" in rows and "<html" not in rows

    _, page = await b.get("/broadcasts")
    assert "早盘操作建议" in page  # the audience by the topics' names

    await eventually(shown_done, what="the list's delivery figures")


async def test_a_broadcast_scheduled_on_the_page_can_be_cancelled_there(
    console: ConsoleBot, browser: Browsers
) -> None:
    await subscribed_client(console)
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/broadcasts/new")
    later = (console.clock() + timedelta(days=1)).astimezone(console.settings.core.tz)
    at = later.strftime("%Y-%m-%dT%H:%M")
    _, page, _ = await b.post(
        "/broadcasts/new",
        {"topic": "morning", "text": "明早九点直播答疑。", "at": at},
        page=page,
    )
    assert "将发送给 1 位客户" in page  # the preview stays in sight
    assert 'value="bc:confirm"' in page and 'value="bc:now"' not in page
    _, page, _ = await press(b, page, "bc:confirm")
    assert "待发送" in page and 'value="bc:x:' in page
    _, page, _ = await press(b, page, cancel_button(page))
    assert "已取消" in page
    async with console.app.db.read() as tx:
        (cast,) = await tx.broadcasts.recent(1)
    assert cast.status == "cancelled"


def cancel_button(page: str) -> str:
    found = re.search(r'name="data" value="(bc:x:\d+)"', page)
    assert found is not None, page
    return found.group(1)


async def test_a_promise_of_returns_is_refused_naming_the_phrase(
    console: ConsoleBot, browser: Browsers
) -> None:
    await subscribed_client(console)
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/broadcasts/new")
    _, page, _ = await b.post(
        "/broadcasts/new", {"topic": "morning", "text": "跟着操作保证收益翻倍"}, page=page
    )
    assert "没有发出" in page and "“保证收益”" in page, page
    assert 'value="bc:now"' not in page
    async with console.app.db.read() as tx:
        assert await tx.broadcasts.recent(1) == []


async def test_an_advisor_may_not_broadcast_here_either(
    console: ConsoleBot, browser: Browsers
) -> None:
    await subscribed_client(console)
    b = await signed_in(console, browser, "zhang", "advisor")
    for path in ("/broadcasts", "/broadcasts/new", "/notes"):  # staff's in the chat too
        assert (await b.get(path))[0] == 403, path
    _, page = await b.get("/talk")
    status, _, _ = await b.post(
        "/broadcasts/new", {"topic": "morning", "text": "今日关注黄金。"}, page=page
    )
    assert status == 403
    async with console.app.db.read() as tx:
        assert await tx.broadcasts.recent(1) == []


@pytest.fixture
async def console(make_settings: SettingsFactory, tmp_path: Path) -> AsyncIterator[ConsoleBot]:
    """The console as conftest makes it, with the firm's calendar overrides in this test's
    own file: Monday 7 December 2026 closed."""
    overrides = tmp_path / "calendar_overrides.yaml"
    overrides.write_text("2026-12-07: closed\n", "utf-8")
    settings = make_settings(
        STAFF_CONSOLE="on", HTTP_HOST="127.0.0.1", HTTP_PORT=str(free_port()),
        CALENDAR_OVERRIDES=str(overrides),
    )  # fmt: skip
    bot = ConsoleBot(settings, clock=FakeTime(ticking=True))
    await bot.start()
    yield bot
    await bot.stop()


def day_row(page: str, day: str) -> str:
    found = re.search(rf"<tr class=\"(\w+)\">\s*<td>{day} .*?</tr>", page, re.S)
    assert found is not None, (day, page)
    return found.group(0)


async def test_the_notes_page_shows_the_coming_days_and_a_note_written_there(
    console: ConsoleBot, browser: Browsers
) -> None:
    await subscribed_client(console)
    b = await signed_in(console, browser, "li", "staff")
    status, page = await b.get("/notes")
    assert status == 200
    # Tuesday 1 December 2026, 09:00: the morning slot (08:30) has passed, the evening's
    # note is missing; two weeks are shown, weekends and the firm's closed day marked.
    today = day_row(page, "2026-12-01")
    assert "交易日" in today and "已过时" in today and 'class="slot missing"' in today
    assert "2026-12-14" in page and "2026-12-15" not in page
    assert "休市" in day_row(page, "2026-12-05") and "周末" in day_row(page, "2026-12-05")
    assert "公司设置" in day_row(page, "2026-12-07")
    assert "非农数据公布(北京时间 21:30)" in day_row(page, "2026-12-04")

    status, page, url = await b.post(
        "/notes", {"day": "2026-12-02", "slot": "morning", "text": "关注<黄金>支撑。"}, page=page
    )
    assert status == 200 and "done=" in url
    # the chat's own answer: saved, for how many, the text as clients will read it
    assert "已保存" in page and "1 位订阅客户" in page and "【风险提示】" in page
    row = day_row(page, "2026-12-02")
    assert "关注&lt;黄金&gt;支撑。" in row and "已写好" in row
    _, edit = await b.get("/notes?day=2026-12-02&slot=morning")
    assert ">关注&lt;黄金&gt;支撑。</textarea>" in edit  # written again to change it

    _, page, _ = await b.post(
        "/notes", {"day": "2026-12-07", "slot": "morning", "text": "周一早盘。"}, page=page
    )
    assert "不是交易日" in page and "2026-12-08" in page  # the chat says where it could go
    _, page, _ = await b.post(
        "/notes", {"day": "2026-12-03", "slot": "evening", "text": "稳赚不赔的机会"}, page=page
    )
    assert "没有保存" in page and "稳赚不赔" in page
    async with console.app.db.read() as tx:
        written = await tx.rhythm.upcoming_notes(console.clock().date())
    assert [(n.day.isoformat(), n.slot) for n in written] == [("2026-12-02", "morning")]


async def test_what_was_typed_stays_in_the_form_when_the_chat_refuses_it(
    console: ConsoleBot, browser: Browsers
) -> None:
    await subscribed_client(console)
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/broadcasts/new")
    words = "本周黄金保证收益,机会难得。"
    _, page, _ = await b.post("/broadcasts/new", {"topic": "morning", "text": words}, page=page)
    assert "“保证收益”" in page and f">{words}</textarea>" in page
    assert 'value="morning" checked' in page
    _, page = await b.get("/notes")
    note = "明早稳赚不赔的机会。"
    _, page, _ = await b.post(
        "/notes", {"day": "2026-12-02", "slot": "evening", "text": note}, page=page
    )
    assert f">{note}</textarea>" in page and 'value="evening" selected' in page


async def test_the_audience_is_counted_as_the_form_is_filled(
    console: ConsoleBot, browser: Browsers
) -> None:
    await subscribed_client(console)
    b = await signed_in(console, browser, "li", "staff")
    status, page = await b.get("/broadcasts/audience?topic=morning")
    assert status == 200 and "1 位客户" in page
    _, page = await b.get("/broadcasts/audience?topic=evening")
    assert "0 位客户" in page
    _, page = await b.get("/broadcasts/audience?segment=<b>tier</b>=vip")
    assert "<b>" not in page and "&lt;b&gt;" in page  # the refusal, escaped
    _, page = await b.get("/broadcasts/audience")
    assert "选择栏目" in page
