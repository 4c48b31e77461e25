"""The standard service flow in the chat: staff open an account and the client gets the
guides, steps are marked or noticed, the trading code goes to the client alone, overdue
steps come first on the board, and a newcomer can ask to open an account."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def alice_id(bot: Harness) -> int:
    await bot.say("/start")
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        assert client is not None
        return client.id


async def test_a_client_goes_through_the_flow_step_by_step(bot: Harness) -> None:
    cid = await alice_id(bot)
    shown = await bot.text(f"/onboard {cid}", user="admin")
    assert "公司开户" in shown and "还没有开户" in shown

    sent = await bot.say(f"/onboard {cid} open", user="admin")
    to_alice = [s.plain for s in sent if s.chat == "console:alice"]
    assert len(to_alice) == 3 and "三方存管" in to_alice[0] and "预约辅导" in to_alice[2]
    # Opened again: nothing is sent twice.
    again = await bot.say(f"/onboard {cid} 1 done", user="admin")
    assert not [s for s in again if s.chat == "console:alice"]

    await bot.text(f"/onboard {cid} custody done", user="admin")
    assert "请写明原因" in await bot.text(f"/onboard {cid} 4 skip", user="admin")
    shown = await bot.text(f"/onboard {cid} 交易前的辅导 skip 客户已有交易经验", user="admin")
    assert "✅ 银行三方托管" in shown and "⏭ 交易前的辅导:已跳过(客户已有交易经验" in shown
    await bot.text(f"/client {cid} tier vip", user="admin")  # noticed: 客户细分
    assert "✅ 客户细分" in await bot.text(f"/onboard {cid}", user="admin")

    sent = await bot.say(f"/onboard {cid} code AB123456", user="admin")
    [notice] = [s.plain for s in sent if s.chat == "console:alice"]
    [said] = [s.plain for s in sent if s.chat == "console:admin"]
    assert "交易编码AB123456" in notice
    assert "AB123456" not in said and "3456" in said  # staff see it masked
    async with bot.app.db.read() as tx:
        audited = await tx.audit.recent("onboard.code_sent", limit=1)
        flow = await tx.onboarding.of(cid)
    assert "AB123456" not in str(audited)
    assert flow.steps["code_sent"].state == "done"

    bot.clock.advance(days=3)  # the software guide was due within two days
    board = await bot.text("/onboard", user="admin")
    assert f"#{cid}" in board and "逾期" in board and "软件下载及使用指导" in board


async def test_a_newcomer_asks_to_open_an_account_and_a_person_takes_it(bot: Harness) -> None:
    said = await bot.text("开户咨询")
    assert "编号" in said
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        assert client is not None
        [ticket] = await tx.tickets.of_client(client.id)
    assert ticket.kind == "consult"


async def test_the_flow_report_counts_steps_days_and_overdue(bot: Harness) -> None:
    from broadcasts import monthly

    cid = await alice_id(bot)
    await bot.say(f"/onboard {cid} open", user="admin")
    bot.clock.advance(days=1)
    await bot.say(f"/onboard {cid} custody done", user="admin")
    bot.clock.advance(days=3)  # software (due in 2 days) and coaching (3) are overdue now
    now = bot.clock()
    async with bot.app.db.read() as tx:
        figures = await tx.monthly.figures(
            now - dt.timedelta(days=30), now + dt.timedelta(days=1),
            bot.app.desk.onboarding_due,
        )  # fmt: skip
    flow = figures["onboarding"]
    assert flow["opened"] == 1 and flow["reached"]["custody"] == 1
    assert flow["median_days"]["custody"] == 1.0
    assert flow["overdue"]["software"] == 1 and flow["overdue"]["coaching"] == 1
    text = monthly.text(bot.app.translator, "2026-12", figures)
    assert "开户流程:本月开户 1 位" in text
    assert ("onboarding:custody", "median_days_from_previous", "1") in monthly.rows(figures)


async def test_the_return_visit_counts_from_the_account_opening(bot: Harness) -> None:
    cid = await alice_id(bot)
    bot.clock.advance(days=30)  # first contact a month ago: its visit window has passed
    await bot.say(f"/onboard {cid} open", user="admin")
    async with bot.app.db.write() as tx:
        assert await tx.return_visits.due(7, tx.now(), exclude=("console:admin",)) == []
    bot.clock.advance(days=7)
    async with bot.app.db.write() as tx:
        [(client, address, _)] = await tx.return_visits.due(7, tx.now(), exclude=("console:admin",))
    assert (client, address) == (cid, "console:alice")


async def test_coaching_is_booked_at_an_offered_time_or_another(bot: Harness) -> None:
    cid = await alice_id(bot)
    [offer] = await bot.say("预约辅导")
    times = [b.label for row in offer.buttons for b in row][:-1]
    assert len(times) == 4 and times[0] == "2026-12-01 19:30"  # two hours ahead at least
    await bot.press(offer.buttons[1][0].data)
    async with bot.app.db.read() as tx:
        [ticket] = await tx.tickets.of_client(cid)
    assert ticket.kind == "consult" and "2026-12-02 10:00" in (ticket.text or "")
    stale = await bot.press("coach:202611301000")
    assert any("请选择方便的时间" in s.plain for s in stale)  # gone by: the times again
