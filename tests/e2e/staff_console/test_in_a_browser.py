"""The staff console in a real browser (Debian's headless Chromium, driven by Playwright;
nothing downloaded): an advisor signs in with a TOTP code, claims and answers the ticket a
console client filed, sees the answer reach the client, and resolves it. With SCREENSHOTS=docs
the main screens are saved in docs/ for the README (a CJK font such as Debian's
fonts-wqy-microhei makes them readable); otherwise in the test's own folder."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.commands import text_event
from tests.e2e.staff_console.conftest import PASSWORD, ConsoleBot
from tests.harness import RecordingSender
from tests.support import eventually

pytestmark = pytest.mark.skipif(
    not shutil.which("chromium") and not os.environ.get("CI"),
    reason="no headless Chromium on this machine (apt-get install chromium)",
)
REPO = Path(__file__).resolve().parents[3]
ALICE = "console:alice"
BEIJING = ZoneInfo("Asia/Shanghai")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    # The browser runs on real time: faketime's preload (make test-dates) would stall it.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKE")}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=ARGS, headless=True, env=env
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        yield await context.new_page()
        await browser.close()


async def test_an_advisor_answers_a_ticket_in_the_browser(
    console: ConsoleBot, page: object, tmp_path: Path
) -> None:
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    shots = REPO / "docs" if os.environ.get("SCREENSHOTS") == "docs" else tmp_path
    client = RecordingSender()
    console.senders.append(client)
    await console.restart()
    await console.add_account("zhangwei", "advisor")
    async with console.app.db.write() as tx:
        await tx.advisors.save("staff:zhangwei", on_duty=True)
    for words in ("/advisor", "请问出金多久到账?"):
        await console.app.inbox.receive(text_event("console", ALICE, ALICE, words))

    await page.goto(console.base + "/login")
    await page.fill("input[name=name]", "zhangwei")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.fill("input[name=code]", console.code("zhangwei"))
    await page.screenshot(path=str(shots / "staff-console-sign-in.png"))
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("工单工作台")

    await page.goto(console.base + "/desk?view=open")
    link = page.locator("a", has_text=re.compile(r"ZX-\d{8}-\d{4}")).first
    await expect(link).to_be_visible()
    await page.screenshot(path=str(shots / "staff-console-desk.png"))
    await link.click()
    await page.click("button[value=claim]")
    await expect(page.locator(".answers")).to_contain_text("ZX-")
    await page.select_option("select.canned", index=3)  # a canned reply, then edited
    await expect(page.locator("textarea[name=text]")).to_have_value(re.compile("T\\+1"))
    await page.fill("textarea[name=text]", "您好,出金一般 T+1 到账,请留意银行短信。")
    await page.click("button[value=reply]")
    await expect(page.locator(".answers")).to_contain_text("已转达给客户")
    await page.screenshot(path=str(shots / "staff-console-ticket.png"), full_page=True)

    async def reached() -> bool:
        return any("T+1" in s.plain for s in client.sent if s.chat == ALICE)

    await eventually(reached, what="the answer on the client's channel")
    await page.fill("textarea[name=text]", "已答复出金时间")
    await page.click("button[value=resolve]")
    await expect(page.locator("h1 small")).to_have_text(re.compile("已解决|resolved"))


async def test_the_main_pages_fit_a_phone(
    console: ConsoleBot, page: object, tmp_path: Path
) -> None:
    """At a phone's width (390 px) no page is wider than the screen."""
    from playwright.async_api import Page

    assert isinstance(page, Page)
    await console.add_account("li", "staff")
    for words in ("/advisor", "请问出金多久到账?" * 5):
        await console.app.inbox.receive(text_event("console", ALICE, ALICE, words))
    await page.set_viewport_size({"width": 390, "height": 800})
    await page.goto(console.base + "/login")
    await page.fill("input[name=name]", "li")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.fill("input[name=code]", console.code("li"))
    await page.click("button[type=submit]")
    pages = ("/desk?view=open", "/desk/ticket/1", "/talk", "/reports", "/clients?q=alice")
    for path in (*pages, "/broadcasts", "/broadcasts/new", "/notes", "/faq"):
        await page.goto(console.base + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, (path, width)
    shots = REPO / "docs" if os.environ.get("SCREENSHOTS") == "docs" else tmp_path
    await page.goto(console.base + "/desk/ticket/1")
    await page.screenshot(path=str(shots / "staff-console-phone.png"), full_page=True)


async def test_staff_write_tomorrows_note_send_a_broadcast_and_open_the_report(
    console: ConsoleBot, page: object, tmp_path: Path
) -> None:
    """The desk member's morning: tomorrow's morning note written ahead, a broadcast to the
    morning topic previewed, sent and followed to the end, and the month's report opened."""
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    shots = REPO / "docs" if os.environ.get("SCREENSHOTS") == "docs" else tmp_path
    client = RecordingSender()
    console.senders.append(client)
    await console.restart()
    await console.add_account("li", "staff")
    await console.app.inbox.receive(text_event("console", ALICE, ALICE, "订阅早盘"))
    await page.goto(console.base + "/login")
    await page.fill("input[name=name]", "li")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.fill("input[name=code]", console.code("li"))
    await page.click("button[type=submit]")

    tomorrow = (console.clock() + dt.timedelta(days=1)).astimezone(BEIJING).date()
    await page.goto(console.base + "/notes")
    await page.fill("input[name=day]", tomorrow.isoformat())
    await page.select_option("select[name=slot]", "morning")
    await page.fill("textarea[name=text]", "明日早盘:关注美联储议息结果。")
    await page.click("#write button[type=submit]")
    await expect(page.locator("main")).to_contain_text("关注美联储议息结果")
    await page.screenshot(path=str(shots / "staff-console-notes.png"), full_page=True)

    await page.goto(console.base + "/broadcasts/new")
    await page.check("input[name=topic][value=morning]")
    await expect(page.locator("#audience")).to_contain_text("1 位客户")  # counted as it is picked
    await page.fill("textarea[name=text]", "今日黄金震荡,注意控制仓位。")
    await page.click("form.act button[type=submit]")
    await expect(page.locator(".answers")).to_contain_text("1 位客户")
    await page.screenshot(path=str(shots / "staff-console-broadcast.png"), full_page=True)
    await page.click("button:has-text('立即发送')")
    await expect(page.locator("main")).to_contain_text("已完成", timeout=15_000)

    async def delivered() -> bool:
        return any("注意控制仓位" in s.plain for s in client.sent if s.chat == ALICE)

    await eventually(delivered, what="the broadcast on the client's channel")
    await page.goto(console.base + "/reports")
    frame = page.frame_locator("iframe.report")
    await expect(frame.locator("svg").first).to_be_visible()
