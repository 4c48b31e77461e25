"""Sending on WeChat: passive replies or the customer-service API, the client's window
(5 messages in 48 hours after a message), template messages for service notices outside
it, WeChat's error codes, the shared access token, the API down, and the broadcast report."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.core.types import Outbound
from broadcasts import lifecycle
from storage.schema import messages as m
from storage.schema import wechat_windows
from tests.e2e.wechat.conftest import ALICE, WechatBot
from tests.support import eventually

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

BOB = "o_bob_00000000000000000000000"
CHAT = f"wechat:{ALICE}"


async def notices(bot: WechatBot, *outs: Outbound) -> list[int]:
    async with bot.app.db.write() as tx:
        ids = await bot.app.delivery.enqueue(tx, list(outs))
    bot.app.delivery.notify()

    async def final() -> bool:  # whichever process sent them
        return all(s not in ("pending", "queued", "sending") for s, _ in await rows(bot, ids))

    await eventually(final, timeout=20, what="the notices to be final")
    return ids


async def rows(bot: WechatBot, ids: list[int]) -> list[tuple[str, str | None]]:
    async with bot.app.db.read() as tx:
        found = await tx.conn.execute(m.select().where(m.c.id.in_(ids)).order_by(m.c.id))
        return [(r.status, r.error) for r in found]


async def test_without_time_for_a_passive_reply_the_api_answers(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat(WECHAT_PASSIVE_SECONDS="0")  # type: ignore[operator]
    result = await bot.say("怎么开户")
    assert result.status == 200 and result.body == b"success" and result.reply is None
    await eventually(lambda: bot.api.texts(ALICE), what="the answer through the API")
    assert "开户" in (bot.api.texts(ALICE)[0] or "")


async def test_the_window_allows_five_then_nothing_but_service_notices_by_template(
    make_wechat: object,
) -> None:
    bot: WechatBot = await make_wechat(  # type: ignore[operator]
        WECHAT_SERVICE_TEMPLATE_ID="TPL_SERVICE"
    )
    await bot.say("你好")  # opens the window: 5 customer-service messages
    ids = await notices(bot, *(Outbound(f"通知 {i}", chat=CHAT) for i in range(7)))
    got = await rows(bot, ids)
    assert [s for s, _ in got] == ["sent"] * 5 + ["failed"] * 2
    assert "window" in (got[-1][1] or "")
    assert len(bot.api.custom_sends) == 5, "no call WeChat would refuse"
    [ticket] = await notices(bot, Outbound("您的投诉 TS-1 已处理", chat=CHAT, ref="ticket:1"))
    assert await rows(bot, [ticket]) == [("sent", None)]
    [sent] = bot.api.template_sends
    assert sent.body["template_id"] == "TPL_SERVICE"
    assert "TS-1" in sent.body["data"]["content"]["value"]


async def test_wechat_saying_out_of_window_closes_it_and_is_not_retried(
    make_wechat: object,
) -> None:
    bot: WechatBot = await make_wechat()  # type: ignore[operator]
    await bot.say("你好")
    bot.api.script_errors([45015], path="/cgi-bin/message/custom/send")
    [first] = await notices(bot, Outbound("一", chat=CHAT))
    [second] = await notices(bot, Outbound("二", chat=CHAT))
    assert [s for s, _ in await rows(bot, [first, second])] == ["failed", "failed"]
    assert len([c for c in bot.api.calls if c.path.endswith("custom/send")]) == 1
    async with bot.app.db.read() as tx:
        assert (await tx.conn.execute(wechat_windows.select())).all() == []


async def test_unfollowed_is_blocked(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat()  # type: ignore[operator]
    await bot.say("你好")
    bot.api.interactions.unfollow(ALICE)  # WeChat knows before our webhook hears of it
    [row] = await notices(bot, Outbound("一", chat=CHAT))
    assert (await rows(bot, [row]))[0][0] == "blocked"


async def test_an_expired_token_mid_broadcast_is_renewed_once(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat()  # type: ignore[operator]
    for openid in (ALICE, BOB):
        await bot.say("你好", openid)
    first = await notices(bot, *(Outbound(f"早 {i}", chat=f"wechat:{o}")
                                 for i in range(2) for o in (ALICE, BOB)))  # fmt: skip
    fetches = bot.api.token_fetches
    bot.api.expire_tokens()
    rest = await notices(bot, *(Outbound(f"晚 {i}", chat=f"wechat:{o}")
                                for i in range(2) for o in (ALICE, BOB)))  # fmt: skip
    assert {s for s, _ in await rows(bot, first + rest)} == {"sent"}
    assert bot.api.token_fetches == fetches + 1


async def test_one_token_for_two_processes(make_wechat: object) -> None:
    a: WechatBot = await make_wechat()  # type: ignore[operator]
    b: WechatBot = await make_wechat()  # type: ignore[operator]
    await a.say("你好", ALICE)
    await b.say("你好", BOB)
    await asyncio.gather(
        notices(a, Outbound("一", chat=CHAT)), notices(b, Outbound("二", chat=f"wechat:{BOB}"))
    )
    assert a.api.token_fetches == 1, "the second process took the first one's token"


async def test_the_api_down_means_waiting_not_losing(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat()  # type: ignore[operator]
    await bot.say("你好")
    bot.api.down = True
    async with bot.app.db.write() as tx:
        ids = await bot.app.delivery.enqueue(tx, [Outbound("稍后送达", chat=CHAT)])
    bot.app.delivery.notify()
    before = len(bot.api.calls)
    await eventually(lambda: len(bot.api.calls) > before + 1, what="tries while it is down")
    assert (await rows(bot, ids))[0][0] in ("pending", "sending")
    bot.api.down = False
    await bot.app.delivery.settled(ids, timeout=20)
    assert (await rows(bot, ids))[0][0] == "sent"
    assert bot.api.texts(ALICE)[-1] == "稍后送达"


async def test_the_broadcast_report_says_who_was_out_of_reach_and_why(
    make_wechat: object,
) -> None:
    bot: WechatBot = await make_wechat(  # type: ignore[operator]
        BOT_ADMINS=f"wechat:{ALICE}"
    )
    for openid in (ALICE, BOB):
        await bot.say("/subscribe news", openid)
    async with bot.app.db.write() as tx:  # Bob's window closed long ago
        await tx.conn.execute(
            wechat_windows.update()
            .where(wechat_windows.c.chat == f"wechat:{BOB}")
            .values(until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
        plan = await lifecycle.plan(
            tx, bot.app.translator, author=f"wechat:{ALICE}", text="黄金午间资讯", topics=["news"]
        )
        await lifecycle.create(tx, plan, author=f"wechat:{ALICE}", send_at=tx.now())
    bot.app.delivery.notify()

    async def reported() -> str | None:
        await bot.app.broadcast_tick()
        texts = [t or "" for t in bot.api.texts(ALICE)]
        return next((t for t in texts if "广播 #" in t), None)

    text = await eventually(reported, what="the report to the author")
    assert "微信:1 位没有收到" in text and "超出客服消息窗口" in text


async def test_a_long_text_is_split_to_wechats_limit(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat()  # type: ignore[operator]
    await bot.say("你好")
    long = "\n\n".join(f"第{i}段:" + "黄金价格波动较大,请注意仓位控制。" * 8 for i in range(12))
    ids = await notices(bot, Outbound(long, chat=CHAT))
    assert len(ids) > 1 and {s for s, _ in await rows(bot, ids)} == {"sent"}
    parts = bot.api.texts(ALICE)[-len(ids) :]
    assert all(len((p or "").encode()) <= 2048 for p in parts)
    assert "".join(p or "" for p in parts).count("第") == 12, "nothing lost at the cuts"


async def test_a_message_recorded_before_a_crash_is_answered_after_the_restart(
    make_wechat: object,
) -> None:
    from bot.channels.wechat.convert import to_inbound

    bot: WechatBot = await make_wechat()  # type: ignore[operator]
    await bot.say("你好")
    fields = {"ToUserName": "gh_0123456789ab", "FromUserName": ALICE, "CreateTime": "1800000000",
              "MsgType": "text", "Content": "怎么开户", "MsgId": "991"}  # fmt: skip
    # The webhook recorded it; the process died before handling it.
    assert await bot.app.inbox.record(to_inbound(fields), fields) is not None
    before = len(bot.api.texts(ALICE))
    await bot.restart()
    await eventually(lambda: len(bot.api.texts(ALICE)) > before, what="the answer after restart")
    assert "开户" in (bot.api.texts(ALICE)[-1] or "")
    again = await bot.wechat.push({**fields, "CreateTime": 1800000000, "MsgId": 991})
    assert again.body == b"success", "WeChat's late retry of it is not handled twice"
