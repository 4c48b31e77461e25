"""SMS end to end: the bot on Alibaba Cloud SMS (the fake dysmsapi, signatures checked),
receipts and replies pushed to its webhook, consent and opt-out, quiet hours, the account
stopping and resuming; every client reached once, on a route that exists, or told why not."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiohttp

from bot.core.commands import text_event
from bot.core.text import to_plain
from broadcasts import lifecycle, monthly
from tests.e2e.sms.conftest import ALERT, MARKETING, NOTICE, STAFF, SmsBot
from tests.support import eventually

Make = Callable[..., Awaitable[SmsBot]]

BOB, CAROL, DAN, ERIN = "13800000001", "15000000002", "13700000003", "13600000004"
NIGHT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Beijing


async def mixed_audience(bot: SmsBot) -> dict[str, int]:
    """Risk subscribers reached in every way SMS meets: by chat, by SMS, and not at all."""
    return {
        "chat": await bot.client("console:alice", phone="13900000000", consent=True,
                                 topics=("risk",)),
        "sms": await bot.client(f"sms:{BOB}", phone=BOB, consent=True, topics=("risk",)),
        "no_consent": await bot.client(f"sms:{CAROL}", phone=CAROL, topics=("risk",)),
        "refused": await bot.client(f"sms:{DAN}", phone=DAN, consent=False, topics=("risk",)),
    }  # fmt: skip


async def test_a_risk_alert_reaches_sms_clients_once_and_says_who_could_not_be(
    make_sms: Make,
) -> None:
    bot = await make_sms()
    await mixed_audience(bot)
    await bot.staff("/alert 金价急跌,注意仓位")  # 09:00 in Beijing: it goes at once
    await bot.sms_sent(1)
    await bot.settled()
    [text] = bot.texts_to(BOB)
    assert text.template == ALERT.code and text.sign_name == "国瑞投资"
    assert text.params["content"].startswith("金价急跌,注意仓位")
    assert "投资有风险" in text.params["content"]  # advice carries its risk words
    assert "拒收请回复R" not in text.params["content"]  # an alert is not marketing
    assert bot.texts_to(CAROL) == [] and bot.texts_to(DAN) == []
    assert [s.chat for s in bot.console.sent].count("console:alice") == 1  # chat, not SMS
    assert bot.texts_to("13900000000") == []
    carol = await bot.rows(f"sms:{CAROL}")
    dan = await bot.rows(f"sms:{DAN}")
    assert [(r.status, "consented" in (r.error or "")) for r in carol] == [("failed", True)]
    assert [r.status for r in dan] == ["failed"]
    # The report to staff counts them among those not reached.
    async with bot.app.db.read() as tx:
        [alert] = await tx.broadcasts.recent(1)
        routes = await tx.broadcasts.routes(alert.id)
    assert routes["sms.sms"] == {"sent": 1}


async def test_receipts_settle_rows_once_in_any_order_and_bad_pushes_are_refused(
    make_sms: Make,
) -> None:
    bot = await make_sms()
    await bot.client(f"sms:{BOB}", phone=BOB, consent=True, topics=("risk",))
    await bot.client(f"sms:{ERIN}", phone=ERIN, consent=True, topics=("risk",))
    await bot.staff("/alert 美联储议息,波动加大")
    await bot.sms_sent(2)
    await bot.settled()
    bob, erin = bot.texts_to(BOB)[0], bot.texts_to(ERIN)[0]
    # Erin's receipt first, then Bob's failure, then Bob's again: the first word stands.
    reports = [bot.aliyun.settle(erin), bot.aliyun.settle(bob, delivered=False, err_code="MK:0001")]
    status, answer = await bot.aliyun.push_reports(bot.webhook, reports)
    assert (status, json.loads(answer)["code"]) == (200, 0)
    status, _ = await bot.aliyun.push_reports(bot.webhook, [bot.aliyun.settle(bob)])
    assert status == 200
    [bob_row], [erin_row] = await bot.rows(f"sms:{BOB}"), await bot.rows(f"sms:{ERIN}")
    assert (erin_row.status, bob_row.status) == ("delivered", "failed")
    assert "MK:0001" in (bob_row.error or "")
    # A push without the token, or not a JSON array, changes nothing.
    async with aiohttp.ClientSession() as session:
        wrong = bot.webhook.replace("token=", "token=x")
        async with session.post(wrong, json=[bot.aliyun.settle(erin)]) as response:
            assert response.status == 403
        async with session.post(bot.webhook, data=b"{not json") as response:
            assert response.status == 400
    # The monthly figures count what went and what the carriers said.
    async with bot.app.db.read() as tx:
        figures = await tx.sms.figures(bot.app.db.clock() - timedelta(days=1),
                                       bot.app.db.clock() + timedelta(days=1))  # fmt: skip
    assert figures == {"sent": 2, "delivered": 1, "failed": 1, "parts": 2}
    async with bot.app.db.read() as tx:
        now = bot.app.db.clock()
        report = await tx.monthly.figures(now - timedelta(days=1), now + timedelta(days=1))
    line = to_plain(monthly.text(bot.app.translator, "2026-12", report)).splitlines()[-1]
    assert line == "短信 发出 2 条:送达 1、失败 1,计费 2 条"
    assert ("sms", "parts", "2") in monthly.rows(report)


async def test_a_reply_r_ends_topic_texts_and_other_words_reach_a_person(
    make_sms: Make,
) -> None:
    bot = await make_sms()
    bob = await bot.client(f"sms:{BOB}", phone=BOB, consent=True, topics=("risk",))
    status, answer = await bot.aliyun.push_replies(bot.webhook, [bot.aliyun.reply(BOB, "R")])
    assert (status, json.loads(answer)["code"]) == (200, 0)
    await bot.settled()
    async with bot.app.db.read() as tx:
        opted = await tx.sms.opted_out(BOB)
        assert opted is not None and (opted.source, opted.word) == ("reply", "R")
    assert bot.aliyun.sent == []  # R is not answered
    await bot.staff("/alert 白银大幅波动")
    row = (await bot.rows(f"sms:{BOB}"))[-1]
    assert row.status == "failed" and "opt out" in (row.error or "")
    assert bot.texts_to(BOB) == []
    # Any other words are a message for a person: a ticket, acknowledged by SMS (a notice).
    reply = bot.aliyun.reply(BOB, "我的账户出金一直没到账")
    await bot.aliyun.push_replies(bot.webhook, [reply])
    await bot.sms_sent(1)
    await bot.settled()
    async with bot.app.db.read() as tx:
        tickets = await tx.tickets.of_client(bob)
    assert len(tickets) == 1 and tickets[0].kind == "consult"
    texts = bot.texts_to(BOB)
    assert texts and all(s.template == NOTICE.code for s in texts)
    assert tickets[0].number in "".join(s.params["content"] for s in texts)
    # Pushed again (Alibaba retries when unsure): recorded once, answered once.
    await bot.aliyun.push_replies(bot.webhook, [reply])
    await bot.settled()
    assert len(bot.texts_to(BOB)) == len(texts)


async def test_marketing_waits_for_the_end_of_the_quiet_hours(
    make_sms: Make,
) -> None:
    bot = await make_sms(start=NIGHT)
    await bot.client(f"sms:{BOB}", phone=BOB, consent=True, topics=("news",))
    t = bot.app.translator
    async with bot.app.db.write() as tx:
        plan = await lifecycle.plan(
            tx, t, author=STAFF, text="盘后资讯:今晚关注非农数据", topics=["news"]
        )
        assert plan.sms is not None and plan.sms.text is not None
        preview = plan.routes(t)
        await lifecycle.create(tx, plan, author=STAFF, send_at=tx.now())
    assert "短信 1" in preview and "× 1 位 = 1 条" in preview  # the SMS text, its parts, its cost
    bot.app.delivery.notify("sms")

    # Written to wait for 08:00 in the outbox: not even tried before.
    [row] = await bot.rows(f"sms:{BOB}")
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 in Beijing
    assert bot.texts_to(BOB) == []
    bot.clock.set(datetime(2026, 12, 2, 0, 0, 30, tzinfo=UTC))  # 08:00:30 in Beijing
    bot.app.delivery.notify("sms")
    await bot.sms_sent(1)
    [text] = bot.texts_to(BOB)
    assert text.template == MARKETING.code
    assert text.params["content"].endswith("拒收请回复R")


async def test_an_empty_balance_stops_the_channel_tells_staff_once_and_loses_nothing(
    make_sms: Make,
) -> None:
    bot = await make_sms()
    for phone in (BOB, ERIN):
        await bot.client(f"sms:{phone}", phone=phone, consent=True, topics=("risk",))
    bot.aliyun.refuse("isv.AMOUNT_NOT_ENOUGH")
    await bot.staff("/alert 伦敦金跌破支撑", settle=False)

    def told() -> list[str]:
        return [s.text for s in bot.console.sent if s.chat == STAFF and "短信发不出去" in s.text]

    await eventually(lambda: told(), what="staff to hear the channel stopped")
    async with bot.app.db.read() as tx:
        pending = await tx.messages.count(channel="sms", status="pending")
        pending += await tx.messages.count(channel="sms", status="sending")
    assert pending == 2 and bot.aliyun.sent == []
    # Topped up; the next probe (5 minutes on, here in a new process) sends what waited,
    # and staff hear so.
    bot.aliyun.refuse(None)
    await bot.restart()
    bot.clock.advance(minutes=5)
    bot.app.delivery.notify("sms")
    await bot.sms_sent(2)
    await bot.settled()
    assert len(told()) == 1
    # Told by the new process: the stop was the last one's (kept in the database).
    assert any("短信恢复发送了" in s.text for s in bot.console.sent if s.chat == STAFF)
    assert sorted(s.phone for s in bot.aliyun.sent) == sorted((BOB, ERIN))


async def test_without_a_push_receipts_are_asked_for(
    make_sms: Make,
) -> None:
    bot = await make_sms(push=False)
    await bot.client(f"sms:{BOB}", phone=BOB, consent=True, topics=("risk",))
    await bot.staff("/alert 原油跳水")
    await bot.sms_sent(1)
    await bot.settled()
    bot.aliyun.settle(bot.texts_to(BOB)[0])
    bot.clock.advance(minutes=3)
    await bot.channel.upkeep()
    [row] = await bot.rows(f"sms:{BOB}")
    assert row.status == "delivered"


async def test_a_number_gets_no_more_than_its_cap_and_the_rest_waits(make_sms: Make) -> None:
    bot = await make_sms(SMS_PER_NUMBER_HOUR="2")
    await bot.client(f"sms:{BOB}", phone=BOB, consent=True, topics=("risk",))
    for text in ("黄金急涨", "白银急跌", "原油跳空"):
        await bot.staff(f"/alert {text}", settle=False)
    await bot.sms_sent(2)

    async def third_waits() -> bool:
        rows = await bot.rows(f"sms:{BOB}")
        return sorted(r.status for r in rows) == ["pending", "sent", "sent"]

    await eventually(third_waits, what="the third text to wait for the hour")
    assert len(bot.texts_to(BOB)) == 2
    bot.clock.advance(hours=1)
    bot.app.delivery.notify("sms")
    await bot.sms_sent(3)
    assert [s.params["content"][:4] for s in bot.texts_to(BOB)] == [
        "黄金急涨",
        "白银急跌",
        "原油跳空",
    ]


async def test_a_binding_code_goes_by_sms_to_the_phone_on_file(make_sms: Make) -> None:
    bot = await make_sms()
    bob = await bot.client(f"sms:{BOB}", phone=BOB)  # no consent needed: it is his own account

    async def say(text: str) -> list[str]:
        before = len(bot.console.sent)
        await bot.app.inbox.receive(text_event("console", "console:bob", "console:bob", text))
        await bot.settled()
        return [s.text for s in bot.console.sent[before:] if s.chat == "console:bob"]

    [answer] = await say(f"绑定 {BOB}")
    assert "138****0001" in answer
    [texted] = bot.texts_to(BOB)
    assert texted.template == NOTICE.code
    code = re.search(r"\d{6}", texted.params["content"]).group()  # type: ignore[union-attr]
    [unknown] = await say("绑定 13911112222")  # not on file: the same words, no text sent
    assert "139****2222" in unknown and bot.texts_to("13911112222") == []
    [linked] = await say(f"绑定 {code}")
    assert "绑定成功" in linked
    async with bot.app.db.read() as tx:
        assert (await tx.clients.by_address("console:bob")).id == bob  # type: ignore[union-attr]
