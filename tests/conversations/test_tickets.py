"""Complaints, consultations and the advisors' desk, end to end on the console channel:
a client (alice), two advisors (adv1, adv2), a staff room, and the admin."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from storage.records import Ticket
from tests.conftest import SettingsFactory
from tests.conversations.conftest import STAFF
from tests.harness import Harness, Sent, to

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def file_complaint(
    bot: Harness, user: str = "alice", *parts: str
) -> tuple[Ticket, list[Sent]]:
    await bot.press("menu:complaint", user=user)
    await bot.press("tki:cat:funds", user=user)
    for part in parts or ("出金三天还没到账",):
        await bot.say(part, user=user)
    await bot.press("tki:done", user=user)
    await bot.press("tki:here", user=user)
    sent = await bot.press("tki:submit", user=user)
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address(f"console:{user}")
        [ticket, *_] = await tx.tickets.of_client(client.id)  # type: ignore[union-attr]
    return ticket, sent


async def test_a_complaint_is_heard_recorded_assigned_and_announced(desk: Harness) -> None:
    [intro] = await desk.press("menu:complaint")
    assert "我非常理解您的心情" in intro.plain
    assert intro.callbacks[:6] == [
        "tki:cat:attitude",
        "tki:cat:execution",
        "tki:cat:fees",
        "tki:cat:tech",
        "tki:cat:funds",
        "tki:cat:other",
    ]
    await desk.press("tki:cat:funds")
    [noted] = await desk.say("周一申请出金")
    assert "第 1 条" in noted.plain and "tki:done" in noted.callbacks
    await desk.say("到现在还没到账,客服也没人回")
    [ask] = await desk.press("tki:done")
    assert ask.callbacks[:2] == ["tki:here", "tki:phone"]
    await desk.press("tki:phone")
    [wrong] = await desk.say("12345")
    assert "11 位" in wrong.plain
    [summary] = await desk.say("+86 138-1234-5678")
    assert "13812345678" in summary.plain and "账户与资金" in summary.plain
    assert "周一申请出金\n到现在还没到账" in summary.plain
    sent = await desk.press("tki:submit")
    [ack] = to(sent, "console:alice")
    number = re.search(r"TS-\d{8}-0001", ack.plain)
    assert number and "我非常理解您的心情" in ack.plain and "4 小时内" in ack.plain
    [notice] = to(sent, "console:adv1")  # least loaded, then by address
    assert number.group(0) in notice.plain and "13812345678" in notice.plain
    assert [c.split(":")[1] for c in notice.callbacks] == ["c", "r", "s", "h"]
    [room] = to(sent, STAFF)
    assert "console:adv1" in room.plain
    async with desk.app.db.read() as tx:
        ticket = await tx.tickets.by_number(number.group(0))
        assert (
            ticket is not None and ticket.category == "funds" and ticket.advisor == "console:adv1"
        )
        assert ticket.text == "周一申请出金\n到现在还没到账,客服也没人回"
        assert [e.action for e in await tx.tickets.history(ticket.id)] == ["opened", "routed"]


async def test_two_advisors_claiming_at_once_one_wins(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    first, second = await asyncio.gather(
        desk.press(f"tk:c:{ticket.id}", user="adv1"), desk.press(f"tk:c:{ticket.id}", user="adv2")
    )
    texts = [to(first, "console:adv1")[0].plain, to(second, "console:adv2")[0].plain]
    assert sum("您已认领" in t for t in texts) == 1
    assert sum("已由 console:adv" in t for t in texts) == 1
    async with desk.app.db.read() as tx:
        fresh = await tx.tickets.get(ticket.id)
    assert fresh is not None and fresh.claimed


async def test_replies_are_relayed_both_ways_signed_and_screened(desk: Harness) -> None:
    await desk.say("/sign 王磊 A0120611010001", user="adv1")
    ticket, _ = await file_complaint(desk)
    blocked = await desk.say(f"/reply {ticket.number} 放心,跟着我们操作保证收益", user="adv1")
    assert "保证收益" in blocked[0].plain and not to(blocked, "console:alice")
    async with desk.app.db.read() as tx:
        [audit] = await tx.audit.recent("ticket.reply_blocked")
    assert audit["detail"]["ticket"] == ticket.number

    sent = await desk.say(f"/reply {ticket.number} 您好,已为您核实,款项今天下午到账。", user="adv1")
    [relayed] = to(sent, "console:alice")
    assert "王磊" in relayed.plain and "A0120611010001" in relayed.plain
    assert "款项今天下午到账" in relayed.plain
    back = await desk.say("好的,<b>谢谢</b> <script>x</script>")
    [to_adv] = to(back, "console:adv1")
    assert "&lt;script&gt;" in to_adv.text and "<script>" not in to_adv.text
    [ack] = to(back, "console:alice")
    assert "已转给您的顾问" in ack.plain, "relayed, not answered by the FAQ"
    quiet = await desk.say("还有一个小问题")
    assert not to(quiet, "console:alice"), "acknowledged once per advisor reply"
    assert to(quiet, "console:adv1")

    await desk.press(f"tk:r:{ticket.id}", user="adv1")
    sent = await desk.say("不客气,有问题随时找我。", user="adv1")
    assert "随时找我" in to(sent, "console:alice")[0].plain
    async with desk.app.db.read() as tx:
        steps = [e.action for e in await tx.tickets.history(ticket.id)]
        fresh = await tx.tickets.get(ticket.id)
    assert steps[-4:] == ["reply", "client", "client", "reply"]
    assert fresh is not None and fresh.status == "waiting" and fresh.responded_at is not None


async def test_resolve_rate_comment_and_the_history(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.press(f"tk:s:{ticket.id}", user="adv1")
    sent = await desk.say("已核实为银行延迟,款项已到账。", user="adv1")
    [result] = to(sent, "console:alice")
    assert "银行延迟" in result.plain
    assert result.callbacks == [f"tkc:rate:{ticket.id}:{n}" for n in range(1, 6)] + [
        f"tkc:reopen:{ticket.id}"
    ]
    await desk.press(f"tkc:rate:{ticket.id}:4")
    assert "已经评价" in (await desk.press(f"tkc:rate:{ticket.id}:1"))[0].plain
    await desk.say("处理得挺快")
    [shown] = await desk.say(f"/ticket {ticket.number}", user="adv2")
    assert "⭐⭐⭐⭐ 处理得挺快" in shown.plain and "银行延迟" in shown.plain
    async with desk.app.db.read() as tx:
        fresh = await tx.tickets.get(ticket.id)
    assert fresh is not None and (fresh.status, fresh.rating, fresh.feedback) == (
        "resolved",
        4,
        "处理得挺快",
    )
    [reopened, *notices] = await desk.press(f"tkc:reopen:{ticket.id}")
    assert "已重新打开" in reopened.plain and to(notices, "console:adv1")


async def test_a_closed_ticket_takes_no_reply(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    async with desk.app.db.write() as tx:
        await tx.tickets.update(ticket.id, status="closed")
    [refused] = await desk.say(f"/reply {ticket.number} 还有问题吗", user="adv1")
    assert "已关闭" in refused.plain


async def test_nobody_touches_another_clients_ticket(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.press(f"tk:s:{ticket.id}", user="adv1")
    await desk.say("已处理", user="adv1")
    for data in (f"tkc:rate:{ticket.id}:1", f"tkc:reopen:{ticket.id}", "tkc:rate:99999999999:1"):
        [reply] = await desk.press(data, user="mallory")
        assert "已失效" in reply.plain or "过期" in reply.plain, reply.plain
    [refused] = await desk.press(f"tk:c:{ticket.id}", user="mallory")
    assert "仅限" in refused.plain
    assert "还没有" in await desk.text("/tickets", user="mallory")
    [forged] = await desk.say(f"/reply {ticket.number} hi", user="mallory")
    assert "仅限" in forged.plain
    async with desk.app.db.read() as tx:
        fresh = await tx.tickets.get(ticket.id)
    assert fresh is not None and fresh.rating is None and fresh.status == "resolved"


async def test_clients_see_their_own_tickets(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    listing = await desk.text("/tickets")
    assert ticket.number in listing and "待受理" in listing


async def test_consultations_from_the_command_and_the_faq_hand_off(desk: Harness) -> None:
    await desk.say("/advisor")
    sent = await desk.say("白银延期的保证金比例最近调整了吗?")
    assert re.search(r"ZX-\d{8}-0001", to(sent, "console:alice")[0].plain)
    [unknown] = await desk.say("你们的量子黄金期权怎么在火星上交割")
    hand_off = next(c for c in unknown.callbacks if c.startswith("faq:h:"))
    sent = await desk.press(hand_off)
    assert re.search(r"ZX-\d{8}-0002", to(sent, "console:alice")[0].plain)
    assert "量子黄金期权" in "".join(s.plain for s in sent if s.chat.startswith("console:adv"))
    again = await desk.press(hand_off)
    assert "已经转交" in again[0].plain
    async with desk.app.db.read() as tx:
        consult = await tx.tickets.by_number(re.search(r"ZX-\d{8}-0002", sent[0].plain).group(0))  # type: ignore[union-attr]
    assert consult is not None and consult.unanswered_id is not None


async def test_revoking_an_advisor_mid_case_requeues_their_tickets(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.press(f"tk:c:{ticket.id}", user="adv1")
    sent = await desk.say("/revoke console:adv1 advisor", user="admin")
    assert to(sent, "console:adv2") and to(sent, STAFF)
    async with desk.app.db.read() as tx:
        fresh = await tx.tickets.get(ticket.id)
    assert fresh is not None and fresh.advisor == "console:adv2" and not fresh.claimed


async def test_an_advisor_who_is_also_a_client(desk: Harness) -> None:
    ticket, sent = await file_complaint(desk, "adv1")
    assert to(sent, "console:adv2"), "routed to the other advisor (least loaded)"
    listing = await desk.text("/tickets", user="adv1")
    assert ticket.number in listing


async def test_an_abandoned_intake_expires_and_the_client_is_told(desk: Harness) -> None:
    await desk.press("menu:complaint")
    await desk.press("tki:cat:fees")
    async with desk.app.db.write() as tx:
        state = await tx.states.get("console:alice")
        old = (tx.now() - timedelta(hours=2)).isoformat()
        await tx.states.set("console:alice", state.state, {**state.data, "started": old})  # type: ignore[union-attr]
    reply = await desk.text("怎么开户")
    assert "超过时限" in reply
    assert "开户" in reply.split("超过时限", 1)[1], "and the new message is answered as usual"


async def test_sla_breach_is_announced_once(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    async with desk.app.db.write() as tx:
        await tx.tickets.update(ticket.id, due_at=tx.now() - timedelta(minutes=1))
    before = len(desk.sender.sent)
    assert await desk.app.desk_tick() == 1
    assert await desk.app.desk_tick() == 0
    await desk.idle()
    [alert] = to(desk.sender.sent[before:], STAFF)
    assert "已超过首次响应时限" in alert.plain and ticket.number in alert.plain
    listing = await desk.text("/tickets breached", user="adv1")
    assert ticket.number in listing


async def test_vip_clients_are_flagged_and_listed_first(desk: Harness) -> None:
    first, _ = await file_complaint(desk, "bob")
    async with desk.app.db.read() as tx:
        alice_id = (await tx.clients.by_address("console:bob")).id  # type: ignore[union-attr]
    await desk.say("/start")  # alice exists
    async with desk.app.db.read() as tx:
        alice = await tx.clients.by_address("console:alice")
    await desk.say(f"/client {alice.id} tier vip", user="adv1")  # type: ignore[union-attr]
    vip, sent = await file_complaint(desk)
    assert vip.vip and "VIP" in to(sent, STAFF)[0].plain
    assert vip.due_at - vip.created_at == timedelta(minutes=60)
    listing = await desk.text("/tickets open", user="adv1")
    assert listing.index(vip.number) < listing.index(first.number)
    assert alice_id != alice.id  # type: ignore[union-attr]


async def test_review_a_signature_cannot_carry_a_promise(desk: Harness) -> None:
    [refused] = await desk.say("/sign 稳赚不赔王 保本A01", user="adv1")
    assert "稳赚不赔" in refused.plain
    async with desk.app.db.read() as tx:
        advisor = await tx.advisors.get("console:adv1")
    assert advisor is not None and advisor.display_name is None


async def test_erasure_closes_and_hides_the_clients_tickets(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.say(f"/reply {ticket.number} 您好", user="adv1")
    await desk.say("/deleteme")
    await desk.say("确认")
    assert ticket.number not in await desk.text("/tickets open", user="adv1")
    [gone] = await desk.say(f"/reply {ticket.number} 还在吗", user="adv1")
    assert "用法" in gone.plain, "an erased client's ticket is no longer workable"
    async with desk.app.db.read() as tx:
        row = (
            await tx.tickets.month(
                "complaint",
                ticket.created_at.replace(day=1),
                ticket.created_at + timedelta(days=40),
            )
        )[0][0]
    assert row.status == "closed" and row.chat == "" and row.contact is None


async def test_with_nobody_on_duty_the_admins_hear_and_the_next_advisor_gets_it(
    make_settings: SettingsFactory,
) -> None:
    bot = Harness(make_settings())
    await bot.start()
    try:
        await bot.say("/grant console:adv1 advisor", user="admin")
        ticket, sent = await file_complaint(bot)
        assert "暂时没有值班顾问" in to(sent, "console:alice")[0].plain
        assert to(sent, "console:admin"), "no staff chat: the admins are told"
        picked = await bot.say("/duty on", user="adv1")
        assert any(ticket.number in s.plain for s in to(picked, "console:adv1"))
        async with bot.app.db.read() as tx:
            fresh = await tx.tickets.get(ticket.id)
        assert fresh is not None and fresh.advisor == "console:adv1"
    finally:
        await bot.stop()


async def test_complaints_are_taken_in_private_only(desk: Harness) -> None:
    from bot.core.commands import text_event

    [refused] = await desk.send(text_event("telegram", "telegram:-100777", "telegram:1", "投诉"))
    assert "私聊" in refused.plain


async def test_an_advisor_reply_does_not_cut_a_form_short(desk: Harness) -> None:
    old, _ = await file_complaint(desk)
    await desk.press("menu:complaint")
    await desk.press("tki:cat:fees")
    await desk.say(f"/reply {old.number} 您好,在处理", user="adv1")
    [noted] = await desk.say("手续费收多了")
    assert "第 1 条" in noted.plain, "still filling in the new complaint"


async def test_complaining_while_talking_to_the_advisor_starts_a_complaint(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.say(f"/reply {ticket.number} 您好", user="adv1")
    [intro] = await desk.say("投诉")
    assert "tki:cat:attitude" in intro.callbacks


async def test_reopening_resumes_the_conversation_and_the_sla(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.say(f"/resolve {ticket.number} 已处理", user="adv1")
    await desk.press(f"tkc:reopen:{ticket.id}")
    sent = await desk.say("其实还没到账")
    assert any("其实还没到账" in s.plain for s in to(sent, "console:adv1"))
    async with desk.app.db.write() as tx:
        fresh = await tx.tickets.get(ticket.id)
        assert fresh is not None and fresh.responded_at is None and not fresh.breach_alerted
        await tx.tickets.update(ticket.id, due_at=tx.now() - timedelta(minutes=1))
    assert await desk.app.desk_tick() == 1


async def test_a_long_number_at_the_phone_prompt_is_the_phone(
    make_settings: SettingsFactory,
) -> None:
    bot = Harness(make_settings(), buttons=False)
    await bot.start()
    try:
        await bot.say("投诉")
        await bot.say("5")  # 账户与资金
        await bot.say("出金没到")
        await bot.say("1")  # 写完了
        await bot.say("2")  # 留电话
        [summary] = await bot.say("13812345678")
        assert "13812345678" in summary.plain and "确认" in summary.plain
    finally:
        await bot.stop()


async def test_review2_desk_rules(desk: Harness) -> None:
    ticket, _ = await file_complaint(desk)  # routed to adv1
    sent = await desk.press(f"tk:c:{ticket.id}", user="adv2")
    assert any("已由 console:adv2 认领" in s.plain for s in to(sent, "console:adv1"))
    await desk.say("/duty off", user="adv1")
    [off] = await desk.press(f"tk:to:{ticket.id}:console:adv1", user="adv2")
    assert "不在值班" in off.plain
    await desk.say("/duty on", user="adv1")
    sent = await desk.press(f"tk:to:{ticket.id}:console:adv1", user="adv2")
    assert any("转交给您" in s.plain for s in to(sent, "console:adv1"))
    assert any("转交给 console:adv1" in s.plain for s in to(sent, STAFF))
    [admin] = await desk.say("/duty on", user="admin")
    assert "只有顾问" in admin.plain
    await desk.say(f"/resolve {ticket.number} 已处理", user="adv1")
    [done] = await desk.press(f"tk:to:{ticket.id}:console:adv2", user="adv1")
    assert "已标记为解决" in done.plain


async def test_review2_vip_change_reaches_open_tickets_and_erasure_tells_the_advisor(
    desk: Harness,
) -> None:
    ticket, _ = await file_complaint(desk)
    await desk.say(f"/client {ticket.client_id} tier vip", user="adv1")
    async with desk.app.db.read() as tx:
        fresh = await tx.tickets.get(ticket.id)
    assert fresh is not None and fresh.vip and fresh.due_at - fresh.created_at == timedelta(hours=1)
    await desk.say("/deleteme")
    sent = await desk.say("确认")
    assert any("删除个人数据" in s.plain for s in to(sent, "console:adv1"))


async def test_review2_digits_in_a_conversation_are_words(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings(), buttons=False)
    await bot.start()
    try:
        await bot.say("/grant console:adv1 advisor", user="admin")
        await bot.say("/duty on", user="adv1")
        ticket, _ = await file_complaint(bot)
        await bot.say(f"/reply {ticket.number} 请问是几号申请的?", user="adv1")
        sent = await bot.say("3")
        assert any("alice:\n3\n" in s.plain for s in to(sent, "console:adv1")), "relayed as said"
    finally:
        await bot.stop()


async def test_a_short_sla_is_promised_in_minutes(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings(STAFF_CHAT=STAFF, TICKET_SLA_COMPLAINT_MINUTES="2"))
    await bot.start()
    try:
        await bot.say("/grant console:adv1 advisor", user="admin")
        await bot.say("/duty on", user="adv1")
        _, sent = await file_complaint(bot)
        [ack] = to(sent, "console:alice")
        assert "2 分钟内会有人联系您" in ack.plain and "0.0" not in ack.plain
    finally:
        await bot.stop()


async def test_typing_in_the_form_shows_the_same_choices_and_never_mind_leaves_it(
    desk: Harness,
) -> None:
    [intro] = await desk.press("menu:complaint")
    [again] = await desk.say("怎么选?")
    assert "请从下面的选项中选择" in again.plain
    assert again.callbacks == intro.callbacks, "the categories again, not only 取消"
    [left] = await desk.say("算了。")
    assert "已取消。还有什么可以帮您" in left.plain
    async with desk.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        assert await tx.tickets.of_client(client.id) == []  # type: ignore[union-attr]
    [reply] = await desk.say("算了")  # outside a form it is no command: answered as usual
    assert "已取消" not in reply.plain
