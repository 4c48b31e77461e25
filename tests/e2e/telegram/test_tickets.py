"""Tickets over the fake Bot API: a client, two advisors and a staff group; replies by
Telegram's own reply feature; a client who blocked the bot; a restart before the notice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.e2e.telegram.conftest import TelegramBot
from tests.support import eventually

CLIENT, ADV1, ADV2, ADMIN = 1001, 501, 502, 900
STAFF_GROUP = -100555


async def press(bot: TelegramBot, user: int, data: str) -> None:
    await bot.push(bot.tg.callback(user, data, message_id=bot.tg.last_message_id(user)))


async def desk(make_bot: Callable[..., Awaitable[TelegramBot]]) -> TelegramBot:
    bot = await make_bot(STAFF_CHAT=f"telegram:{STAFF_GROUP}")
    for advisor in (ADV1, ADV2):
        await bot.say(f"/grant telegram:{advisor} advisor", user=ADMIN)
    await bot.say("/duty on", user=ADV1)
    await bot.say("/sign 王磊 A0120611010001", user=ADV1)
    return bot


async def complain(bot: TelegramBot) -> str:
    await bot.say("投诉", user=CLIENT)
    await press(bot, CLIENT, "tki:cat:execution")
    await bot.say("昨晚挂单没有成交", user=CLIENT)
    await press(bot, CLIENT, "tki:done")
    await press(bot, CLIENT, "tki:here")
    await press(bot, CLIENT, "tki:submit")
    [ack] = bot.tg.texts(CLIENT)[-1:]
    assert "我非常理解您的心情" in ack
    return ack.split("<b>")[1].split("</b>")[0]


async def test_complaint_relayed_both_ways_with_platform_replies(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await desk(make_bot)
    tg = bot.tg
    number = await complain(bot)
    await eventually(lambda: any(number in t for t in tg.texts(ADV1)), what="the notice")
    assert any(number in t for t in tg.texts(STAFF_GROUP)), "announced in the staff group"
    assert not any(number in t for t in tg.texts(ADV2)), "ADV2 is off duty"

    notice_id = tg.last_message_id(ADV1)
    await bot.push(tg.user_message(ADV1, "您好,已查到原因,稍后给您回电。", reply_to=notice_id))
    relayed = tg.texts(CLIENT)[-1]
    assert "王磊" in relayed and "A0120611010001" in relayed and "稍后给您回电" in relayed

    await bot.push(tg.user_message(CLIENT, "好的 <i>谢谢</i>"))
    assert "已转给您的顾问" in tg.texts(CLIENT)[-1]
    to_adv = tg.texts(ADV1)[-1]
    assert number in to_adv and "&lt;i&gt;谢谢&lt;/i&gt;" in to_adv
    await bot.push(tg.user_message(ADV1, "不客气。", reply_to=tg.last_message_id(ADV1)))
    assert "不客气" in tg.texts(CLIENT)[-1]

    async with bot.app.db.read() as tx:
        ticket = await tx.tickets.by_number(number)
        steps = [e.action for e in await tx.tickets.history(ticket.id)]  # type: ignore[union-attr]
    assert steps == ["opened", "routed", "claimed", "reply", "client", "reply"]


async def test_a_client_who_blocked_the_bot_is_written_on_the_ticket(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await desk(make_bot)
    tg = bot.tg
    number = await complain(bot)
    tg.blocked_users.add(CLIENT)
    await bot.say(f"/reply {number} 您好,已处理。", user=ADV1)

    await eventually(
        lambda: any("未能送达客户" in t for t in tg.texts(ADV1)), what="the advisor told"
    )
    async with bot.app.db.read() as tx:
        ticket = await tx.tickets.by_number(number)
        steps = [e.action for e in await tx.tickets.history(ticket.id)]  # type: ignore[union-attr]
    assert steps[-1] == "undelivered"


async def test_the_notice_survives_a_restart_and_goes_out_once(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await desk(make_bot)
    tg = bot.tg
    await bot.say("投诉", user=CLIENT)
    await press(bot, CLIENT, "tki:cat:fees")
    await bot.say("手续费比说好的高", user=CLIENT)
    await press(bot, CLIENT, "tki:done")
    await press(bot, CLIENT, "tki:here")
    # The first send after the submit fails, and the process stops before any retry: the
    # complaint and its notices were committed together, so they wait in the outbox.
    tg.fail_next("sendMessage", status=500, description="Internal Server Error", count=1)
    update = tg.push_update(
        tg.callback(CLIENT, "tki:submit", message_id=tg.last_message_id(CLIENT))
    )
    await bot.shutdown()  # whatever was not delivered yet waits in the outbox
    await bot.start()
    await bot.settled(update)
    await eventually(
        lambda: any("TS-" in t for t in tg.texts(ADV1)), what="the notice after the restart"
    )
    number = next(t for t in tg.texts(CLIENT) if "TS-" in t).split("<b>")[1].split("</b>")[0]
    await bot.shutdown()
    await bot.start()
    assert sum(number in t for t in tg.texts(ADV1)) == 1
    assert sum(number in t for t in tg.texts(STAFF_GROUP)) == 1


async def test_an_advisor_quoting_another_message_is_answered_as_usual(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await desk(make_bot)
    tg = bot.tg
    quoted = tg.last_message_id(ADV1)  # the answer to /sign: no ticket behind it
    before = len(tg.sent(ADV1))
    await bot.push(tg.user_message(ADV1, "怎么开户", reply_to=quoted))
    [answer] = tg.texts(ADV1)[before:]
    assert "开户" in answer and "工单" not in answer


async def consult(bot: TelegramBot, text: str) -> str:
    await bot.say("/advisor", user=CLIENT)
    await bot.say(text, user=CLIENT)
    return bot.tg.texts(CLIENT)[-1].split("<b>")[1].split("</b>")[0]


async def test_the_quoted_ticket_wins_over_a_pending_reply_button(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await desk(make_bot)
    tg = bot.tg
    first = await complain(bot)
    second = await consult(bot, "白银夜盘几点开")
    notices = {n: tg.last_message_id(ADV1) for n in (second,)}
    async with bot.app.db.read() as tx:
        one = await tx.tickets.by_number(first)
    await press_as(bot, ADV1, f"tk:r:{one.id}")  # type: ignore[union-attr]
    await bot.push(tg.user_message(ADV1, "夜盘晚上九点开始。", reply_to=notices[second]))
    async with bot.app.db.read() as tx:
        steps_one = [e.action for e in await tx.tickets.history(one.id)]  # type: ignore[union-attr]
        two = await tx.tickets.by_number(second)
        steps_two = [e.action for e in await tx.tickets.history(two.id)]  # type: ignore[union-attr]
    assert "reply" not in steps_one and steps_two[-1] == "reply"

    # the client answers the complaint's relay (quoting it), not the consultation's
    await bot.say(f"/reply {first} 您的出金已处理。", user=ADV1)
    complaint_relay = tg.last_message_id(CLIENT)
    await bot.say(f"/reply {second} 还有别的问题吗?", user=ADV1)
    await bot.push(tg.user_message(CLIENT, "出金还是没到账", reply_to=complaint_relay))
    async with bot.app.db.read() as tx:
        last_one = (await tx.tickets.history(one.id))[-1]  # type: ignore[union-attr]
    assert (last_one.action, last_one.text) == ("client", "出金还是没到账")


async def press_as(bot: TelegramBot, user: int, data: str) -> None:
    await bot.push(bot.tg.callback(user, data, message_id=bot.tg.last_message_id(user)))


async def test_group_quotes_among_staff_are_not_answered(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await desk(make_bot)
    tg = bot.tg
    await complain(bot)
    await bot.push(tg.user_message(ADV2, "/tickets", chat_id=STAFF_GROUP))
    listing = tg.last_message_id(STAFF_GROUP)  # the bot's answer in the group: no ticket's
    before = len(tg.sent(STAFF_GROUP))
    await bot.push(tg.user_message(ADV2, "收到", chat_id=STAFF_GROUP, reply_to=listing))
    assert len(tg.sent(STAFF_GROUP)) == before
