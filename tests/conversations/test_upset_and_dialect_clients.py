"""Upset clients are calmed, never told "not sure"; clients writing Cantonese or English get a
kind reply and, for a ticket, an advisor who reads their language. On the console channel:
a client (alice), two advisors (adv1, adv2), a staff room and the admin."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import SettingsFactory
from tests.conversations.conftest import STAFF
from tests.harness import Harness, to

UPSET = "我亏了好多钱,你们的分析师就是骗子!!!"


async def test_an_upset_client_is_calmed_never_told_not_sure(desk: Harness) -> None:
    sent = await desk.say(UPSET)
    [reply] = to(sent, "console:alice")
    assert "我非常理解您的心情" in reply.plain and "具体是哪件事" in reply.plain
    assert "没有把握" not in reply.plain
    assert reply.callbacks == ["menu:complaint", "menu:advisor"]
    [room] = to(sent, STAFF)
    assert "情绪激动" in room.plain and UPSET in room.plain
    async with desk.app.db.read() as tx:
        [seen] = await tx.audit.recent("mood.upset")
        assert await tx.faq.unanswered_since(tx.now().replace(year=2000)) == []
    assert seen["detail"]["told"] and "loss_blame" in seen["detail"]["reasons"]
    # The buttons lead on: the complaint form opens.
    [form] = await desk.press("menu:complaint")
    assert "tki:cat:funds" in form.callbacks


async def test_without_buttons_the_choices_are_numbered(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings(), buttons=False)
    await bot.start()
    try:
        sent = await bot.say("垃圾平台,出金一个礼拜都不到账")
        [reply] = to(sent, "console:alice")
        assert "我非常理解您的心情" in reply.plain
        assert "1" in reply.plain and "我要投诉" in reply.plain and "找顾问" in reply.plain
        assert to(sent, "console:admin"), "no staff chat: the admins hear of it"
    finally:
        await bot.stop()


async def test_an_ordinary_loss_question_gets_the_faq(desk: Harness) -> None:
    sent = await desk.say("我上个月亏了2000,手续费怎么算?")
    [reply] = to(sent, "console:alice")
    assert "我非常理解您的心情" not in reply.plain
    assert any(c.startswith("faq:") for c in reply.callbacks), "the FAQ's answer or choices"
    assert not to(sent, STAFF)
    async with desk.app.db.read() as tx:
        assert await tx.audit.recent("mood.upset") == []


async def test_the_staff_chat_is_told_once_an_hour_per_client(desk: Harness) -> None:
    first = await desk.say(UPSET)
    again = await desk.say("你们就是骗钱的,还我血汗钱")
    other = await desk.say("骗子公司!!!", user="bob")
    assert len(to(first, STAFF)) == 1
    assert not to(again, STAFF), "the same client again within the hour"
    assert "我非常理解您的心情" in to(again, "console:alice")[0].plain
    assert len(to(other, STAFF)) == 1, "another client is news"


async def test_an_upset_message_in_the_complaint_form_goes_to_the_form(desk: Harness) -> None:
    await desk.press("menu:complaint")
    await desk.press("tki:cat:funds")
    [noted] = await desk.say(UPSET)
    assert "第 1 条" in noted.plain and "我非常理解您的心情" not in noted.plain


async def test_an_open_tickets_priority_is_raised(desk: Harness) -> None:
    await desk.say("/advisor")
    await desk.say("出金三天还没到账,帮忙看看")
    async with desk.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        [before] = await tx.tickets.of_client(client.id)  # type: ignore[union-attr]
    sent = await desk.say("到底怎么回事???我的钱呢???")
    async with desk.app.db.read() as tx:
        after = await tx.tickets.get(before.id)
    assert after is not None and after.due_at < before.due_at
    assert after.due_at - before.created_at < timedelta(hours=2, minutes=1), "due as a VIP's"
    [room] = to(sent, STAFF)
    assert before.number in room.plain
    assert to(sent, before.advisor or ""), "the advisor holding it is told too"


async def test_cantonese_gets_a_kind_reply_and_a_reader(desk: Harness) -> None:
    [reply] = await desk.say("我想问下你哋啲顾问边个识讲广东话")
    assert "普通话" in reply.plain and "粤语" in reply.plain
    assert "没有把握" not in reply.plain
    assert reply.callbacks == ["menu:advisor"]


async def test_an_english_ticket_goes_to_the_advisor_who_reads_english(desk: Harness) -> None:
    [done] = await desk.say("/duty langs 粤语, English", user="adv2")
    assert "粤语" in done.plain and "英语" in done.plain
    assert "英语" in (await desk.text("/duty langs", user="adv2"))
    [reply] = await desk.say("Sorry I cannot write Chinese, who can help me with my statement?")
    assert "Chinese" in reply.plain and reply.callbacks == ["menu:advisor"]
    await desk.press("menu:advisor")
    sent = await desk.say("My withdrawal of 5000 has not arrived after four days, please check")
    [notice] = to(sent, "console:adv2")  # adv1 is less loaded by address, but reads no English
    assert "My withdrawal" in notice.plain
    # A Mandarin ticket still goes by the usual rule.
    await desk.press("menu:advisor", user="bob")
    mandarin = await desk.say("出金到账时间是几个工作日", user="bob")
    assert to(mandarin, "console:adv1")


async def test_duty_langs_understands_and_refuses(desk: Harness) -> None:
    assert "不认识" in await desk.text("/duty langs 火星语", user="adv1")
    await desk.say("/duty langs cantonese", user="adv1")
    assert "未设置" in await desk.text("/duty langs 无", user="adv1")
    async with desk.app.db.read() as tx:
        assert "console:adv1" not in await tx.advisors.languages()
