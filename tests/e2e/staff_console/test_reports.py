"""Reports in the staff console: the month's feedback report page and CSV, the complaint and
call-record forms as downloads (the same rows as `python -m bot report`), for staff only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.commands import text_event
from tests.e2e.staff_console.conftest import Browser, ConsoleBot, signed_in

ALICE = "console:alice"


async def test_staff_read_and_download_the_months_reports(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]]
) -> None:
    await console.add_account("li", "staff")
    for words in ("/advisor", "=1+1 出金多久到账?"):
        await console.app.inbox.receive(text_event("console", ALICE, ALICE, words))
    month = f"{console.clock():%Y-%m}"
    b = await browser()
    await b.sign_in("li")
    status, page = await b.get(f"/reports?month={month}")
    assert status == 200 and f"{month}/complaints.csv" in page
    status, html = await b.get(f"/reports/{month}/monthly.html")
    assert status == 200 and "<svg" in html and "<script" not in html
    async with b.http.get(f"{console.base}/reports/{month}/consultations.csv") as r:
        assert r.status == 200 and r.headers["Content-Disposition"].startswith("attachment")
        body = (await r.read()).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].startswith("number,time,client,question")
    assert len(lines) == 2 and "'=1+1" in lines[1]  # a spreadsheet shows it, never computes it
    for bad in ("/reports/2026-13/monthly.csv", "/reports/2026-11/passwords.csv"):
        assert (await b.get(bad))[0] == 404


async def test_reports_are_for_staff_not_advisors(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]]
) -> None:
    b = await signed_in(console, browser, "wang", "advisor")
    assert (await b.get("/reports"))[0] == 403
    assert (await b.get("/reports/2026-11/complaints.csv"))[0] == 403
