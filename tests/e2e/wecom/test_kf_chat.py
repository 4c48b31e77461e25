"""A client chats with the firm's WeChat Customer Service (微信客服): WeCom's callback is
verified and decrypted, the messages are pulled from the cursor and recorded once, the
answers go out in WeCom's window, the welcome with its one-time code."""

from __future__ import annotations

import sqlalchemy as sa

from bot.core.types import Outbound
from storage.schema import messages as m
from tests.e2e.wecom.conftest import ALICE, WecomBot

BOB = "wmBobBBBBBBBBBBBBB"


async def test_the_url_is_verified_with_the_decrypted_echostr(wc: WecomBot) -> None:
    assert await wc.wecom.verify("1288432023552776189") == "1288432023552776189"


async def test_a_client_subscribes_and_asks_and_gets_answers_in_the_chat(wc: WecomBot) -> None:
    answer = await wc.say("订阅早盘")
    assert any("早盘" in a and "订阅" in a for a in answer)
    async with wc.app.db.read() as tx:
        client = await tx.clients.by_address(f"wecom:{ALICE}")
        assert client is not None
        assert await tx.subscriptions.of(client.id) == ["morning"]
    before = len(wc.api.sent)
    await wc.say("菜单")
    [shown] = [s for s in wc.api.sent[before:] if s.touser == ALICE]
    assert shown.msgtype == "msgmenu" and shown.menu is not None  # options as a menu message
    labels = [item["click"]["content"] for item in shown.menu["list"]]
    assert any("订阅" in label for label in labels) and "1. " not in shown.menu["head_content"]
    tapped = next(
        item["click"] for item in shown.menu["list"] if "订阅" in item["click"]["content"]
    )
    before = len(wc.api.sent)
    wc.api.client_clicks_menu(ALICE, tapped["id"], tapped["content"])  # a tap: its label
    await wc.announce()
    await wc.read_and_settle()
    assert len(wc.api.sent) > before  # answered like the label typed
    typed = await wc.say("1")  # and a typed number still works
    assert typed


async def test_a_message_read_twice_is_recorded_and_answered_once(wc: WecomBot) -> None:
    await wc.say("你好")
    async with wc.app.db.write() as tx:  # the cursor is lost: WeCom's 3 days come again
        await tx.meta.set("wecom.kf.cursor.wkAJ2GCAAA0000000000000000000001", "")
    before = len(wc.api.sent)
    await wc.read_and_settle()
    assert len(wc.api.sent) == before
    async with wc.app.db.read() as tx:
        inbound = (
            await tx.conn.execute(
                sa.select(sa.func.count()).where(
                    m.c.direction == "in", m.c.chat == f"wecom:{ALICE}"
                )
            )
        ).scalar()
    assert inbound == 1


async def test_a_restart_reads_on_from_the_cursor(make_wecom: object) -> None:
    bot: WecomBot = await make_wecom()  # type: ignore[operator]
    await bot.say("你好")
    answered = len(bot.api.texts(ALICE))
    await bot.stop()
    bot.api.client_says(BOB, "订阅晚盘")  # while the bot is down; its callback is lost
    await bot.start()
    await bot.read_and_settle()
    assert any("晚盘" in (t or "") for t in bot.api.texts(BOB))
    assert len(bot.api.texts(ALICE)) == answered  # Alice's message was not read again


async def test_a_new_client_gets_the_welcome_with_the_event_code(wc: WecomBot) -> None:
    code = wc.api.client_enters(BOB, scene="site")
    assert code is not None
    await wc.announce()
    await wc.read_and_settle()
    [welcome] = [s for s in wc.api.sent if s.touser == BOB]
    assert welcome.via == "send_msg_on_event"  # type: ignore[attr-defined]
    assert welcome.menu is not None and "国瑞投资" in welcome.menu["head_content"]
    assert len(welcome.menu["list"]) >= 3  # the greeting's menu, as options to tap


async def test_outside_the_window_nothing_is_sent_and_the_row_says_why(wc: WecomBot) -> None:
    await wc.say("你好")
    async with wc.app.db.write() as tx:
        await tx.wechat.close_window(f"wecom:{ALICE}")
        client = await tx.clients.by_address(f"wecom:{ALICE}")
        assert client is not None
    async with wc.app.db.write() as tx:
        await wc.app.delivery.enqueue(tx, [Outbound("通知", chat=f"wecom:{ALICE}")])
    wc.app.delivery.notify()
    await wc.settled()
    async with wc.app.db.read() as tx:
        row = (
            await tx.conn.execute(m.select().where(m.c.direction == "out", m.c.text == "通知"))
        ).one()
    assert row.status == "failed" and "window" in (row.error or "")


async def test_a_morning_note_reaches_a_client_in_the_window_and_says_who_it_cannot(
    wc: WecomBot,
) -> None:
    from broadcasts import lifecycle

    await wc.say("订阅早盘")
    await wc.say("订阅早盘", BOB)
    async with wc.app.db.write() as tx:  # Bob's window closed
        await tx.wechat.close_window(f"wecom:{BOB}")
        plan = await lifecycle.plan(
            tx, wc.app.translator, author="console:admin", text="早盘提示:金价震荡。",
            topics=["morning"],
        )  # fmt: skip
        assert plan.reach == {"wecom.window": 1, "wecom.outside": 1}
        assert "企业微信客服消息 1" in plan.routes(wc.app.translator)
        created = await lifecycle.create(tx, plan, author="console:admin", send_at=tx.now())
    wc.app.delivery.notify()
    await wc.settled()
    assert any("早盘提示" in (t or "") for t in wc.api.texts(ALICE))
    assert not any("早盘提示" in (t or "") for t in wc.api.texts(BOB))
    async with wc.app.db.read() as tx:
        assert await tx.broadcasts.unreached(created.id) == {"wecom": {"window": 1}}


async def test_what_a_servicer_wrote_in_the_wecom_app_is_archived_not_answered(
    wc: WecomBot,
) -> None:
    await wc.say("你好")
    before = len(wc.api.sent)
    wc.api.servicer_says(ALICE, "lisi", "您好,我是客服李四。")
    await wc.announce()
    await wc.read_and_settle()
    assert len(wc.api.sent) == before  # the bot does not answer a servicer
    async with wc.app.db.read() as tx:
        archived = await tx.messages.for_chat(f"wecom:{ALICE}", limit=20)
    assert any("李四" in str(m.payload) for m in archived if m.direction == "in")
