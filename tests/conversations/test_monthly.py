"""The monthly feedback report: the month's figures, the chat message, the CSV, and an HTML
page with inline SVG charts that needs no network; sent once on the 1st."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from broadcasts import monthly
from tests.conftest import SettingsFactory
from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

STAFF = "console:staffroom"


@pytest.fixture
async def shop(make_settings: SettingsFactory) -> Harness:
    bot = Harness(make_settings(STAFF_CHAT=STAFF, REPORT_RECIPIENTS="console:manager"))
    await bot.start()
    await bot.say("/grant console:adv1 advisor", user="admin")
    await bot.say("/duty on", user="adv1")
    await bot.say("/subscribe morning news", user="alice")
    await bot.say("/unsubscribe news", user="alice")
    await bot.say("投诉")
    await bot.press("tki:cat:fees")
    await bot.say("手续费 <b>多收</b> 了")
    await bot.press("tki:done")
    await bot.press("tki:here")
    await bot.press("tki:submit")
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        [ticket] = await tx.tickets.of_client(client.id)  # type: ignore[union-attr]
    await bot.say(f"/resolve {ticket.number} 已退还", user="adv1")
    await bot.press(f"tkc:rate:{ticket.id}:4")
    yield bot  # type: ignore[misc]
    await bot.stop()


def month_of(bot: Harness) -> tuple[str, dt.datetime, dt.datetime]:
    now = bot.app.db.clock().astimezone(bot.app.rhythm.tz)
    start = dt.datetime(now.year, now.month, 1, tzinfo=bot.app.rhythm.tz)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return f"{start:%Y-%m}", start, end


async def test_figures_text_csv_and_html(shop: Harness) -> None:
    month, start, end = month_of(shop)
    async with shop.app.db.read() as tx:
        f = await tx.monthly.figures(start, end)
    assert f["complaints"] == [{"category": "fees", "status": "resolved", "n": 1}]
    assert f["satisfaction"] == {"mean": 4.0, "n": 1}
    assert {(s["topic"], s["action"]) for s in f["subscriptions"]} >= {("news", "unsubscribe")}
    text = monthly.text(shop.app.translator, month, f)
    assert "投诉 1 件(费用 1)" in text and "满意度 4 分" in text
    rows = list(csv.DictReader(io.StringIO(monthly.to_csv(f))))
    assert {"section": "complaints:fees", "item": "resolved", "value": "1"} in rows
    assert f["return_visits"]["mean"] is None  # no figure: an empty cell, never a '- formula
    assert {"section": "return_visits", "item": "mean", "value": ""} in rows
    assert not any(r["value"].startswith("'") for r in rows)
    page = monthly.to_html(shop.app.translator, month, "国瑞投资", f)
    assert page.count("<svg") == 4 and "费用" in page and "投诉类别" in page
    assert not re.search(r"""(?:src|href)=["']https?:""", page), "nothing fetched from a network"
    assert "<script" not in page


async def test_faq_hit_rate_and_top_unanswered(shop: Harness) -> None:
    """Each typed question counts once by how it was met: answered, suggested, or not
    answered; a pick from the suggestions is counted apart, not as a second question."""
    async with shop.app.db.read() as tx:
        index = await shop.app.faq.index(tx)
    vague = next(q for q in ("费用", "账户", "密码问题") if index.match(q).outcome == "suggest")
    await shop.say("怎么开户", user="bob")
    await shop.say("怎么开户", user="carol")
    [choices] = await shop.say(vague, user="bob")
    await shop.press(next(c for c in choices.callbacks if c.startswith("faq:a:")), user="bob")
    await shop.say("你们楼下的奶茶<b>好喝</b>吗", user="bob")
    await shop.say("你们楼下的奶茶<b>好喝</b>吗", user="carol")
    month, start, end = month_of(shop)
    async with shop.app.db.read() as tx:
        figures = await tx.monthly.figures(start, end)
    f = figures["faq"]
    counts = (f["asked"], f["answered"], f["suggested"], f["chosen"], f["handed_on"])
    assert counts == (5, 2, 1, 1, 2)
    assert f["top_unanswered"][0]["n"] == 2 and "奶茶" in f["top_unanswered"][0]["question"]
    text = monthly.text(shop.app.translator, month, figures)
    assert "提问 5 个,直接回答 2(命中率 40.0%),从推荐中选中 1" in text
    assert "奶茶" in text and "<b>好喝" not in text, "client text is escaped in the message"
    rows = list(csv.DictReader(io.StringIO(monthly.to_csv(figures))))
    assert {"section": "faq", "item": "hit_rate", "value": "40.0%"} in rows
    page = monthly.to_html(shop.app.translator, month, "国瑞投资", figures)
    assert "常见问题:结果" in page and "直接回答" in page


async def test_the_report_goes_out_once_on_the_first(shop: Harness) -> None:
    _, _, end = month_of(shop)
    first = end.replace(hour=9)
    before = len(shop.sender.sent)
    await shop.app.fire("monthly", "-", first)
    await shop.app.fire("monthly", "-", first + dt.timedelta(minutes=1))
    await shop.idle()
    got = [s.chat for s in shop.sender.sent[before:] if "客户服务月报" in s.plain]
    assert sorted(got) == ["console:manager", STAFF]
    files = [
        s.document["name"] for s in shop.sender.sent[before:] if s.document and s.chat == STAFF
    ]
    assert sorted(files) == [f"monthly-{end:%Y-%m}.csv".replace(f"{end:%Y-%m}", _prev(end)),
                             f"monthly-{_prev(end)}.html"]  # fmt: skip


def _prev(first_of_next: dt.datetime) -> str:
    return f"{first_of_next - dt.timedelta(days=1):%Y-%m}"


# CI installs Debian's chromium (.ci/run): there a missing browser is a failure, not a skip.
@pytest.mark.skipif(
    not shutil.which("chromium") and not os.environ.get("CI"),
    reason="no headless Chromium on this machine (apt-get install chromium)",
)
async def test_the_page_renders_in_a_real_browser(shop: Harness, tmp_path: Path) -> None:
    """The page is parsed as HTML with SVG (one bar per complaint category and topic) and
    renders to a screenshot in Debian's Chromium."""
    month, start, end = month_of(shop)
    async with shop.app.db.read() as tx:
        f = await tx.monthly.figures(start, end)
    page = tmp_path / "report.html"
    page.write_text(monthly.to_html(shop.app.translator, month, "国瑞投资", f), "utf-8")
    shot = tmp_path / "report.png"
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--window-size=800,600",
        "--no-first-run", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    # The browser renders a file; it needs no faked date (faketime's preload stalls it).
    env = {
        k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")
    }
    dom = await asyncio.to_thread(
        subprocess.run,
        ["chromium", *args, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    faq_bars = 3  # answered directly, chosen from suggestions, not answered
    bars = len(f["complaints"]) + len({s["topic"] for s in f["subscriptions"]}) + faq_bars
    assert dom.stdout.count("<rect") == bars and "投诉类别" in dom.stdout
    await asyncio.to_thread(
        subprocess.run,
        ["chromium", *args, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert shot.stat().st_size > 10_000
