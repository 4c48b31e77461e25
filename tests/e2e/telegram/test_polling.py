"""Long polling end to end: real aiogram against the fake Bot API, real SQLite, real App."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram.types import Update
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.app import App
from bot.channels.telegram.convert import to_inbound
from storage.schema import messages as m
from tests.e2e.telegram.conftest import USER, TelegramBot, update_key
from tests.fakes.clock import earlier_run
from tests.fakes.telegram_api import JSON, FakeTelegram
from tests.support import eventually

MENU = ["sub:view", "menu:faq", "menu:complaint", "menu:advisor"]


def callbacks(params: JSON) -> list[str]:
    markup = params.get("reply_markup") or {"inline_keyboard": []}
    return [b.get("callback_data") for row in markup["inline_keyboard"] for b in row]


def db_path(bot: TelegramBot) -> str:
    return str(make_url(bot.settings.core.database_url).database)


async def menu_message_id(bot: TelegramBot, user: int = USER) -> int:
    """The platform id of the newest reply (what Telegram returned for sendMessage)."""
    [out] = [r for r in await bot.archive(user) if r.direction == "out"][-1:]
    assert out.status == "sent" and out.platform_id is not None
    return int(out.platform_id)


async def acknowledged(tg: FakeTelegram, update_id: int) -> None:
    """Wait until a getUpdates call confirmed update_id (offset past it)."""
    await eventually(
        lambda: any(o is not None and o > update_id for o in tg.get_updates_offsets),
        what=f"getUpdates to acknowledge update {update_id}",
    )


# ---- conversations ----------------------------------------------------------------------------


async def test_start_greets_with_firm_name_and_menu_keyboard(tgbot: TelegramBot) -> None:
    [reply] = await tgbot.say("/start")
    assert "国瑞投资" in reply["text"] and "您好" in reply["text"]
    assert reply["chat_id"] == USER and reply["parse_mode"] == "HTML"
    assert callbacks(reply) == MENU
    calls = [name for name, _ in tgbot.tg.requests]
    assert calls[:2] == ["getMe", "setMyCommands"], "the token is checked first"
    assert "deleteWebhook" in calls, "polling removes a leftover webhook"


async def test_subscribe_and_unsubscribe_by_command_and_chinese_words(tgbot: TelegramBot) -> None:
    reply = await tgbot.text("/subscribe morning")
    assert "订阅成功" in reply and "早盘操作建议" in reply
    assert "晚盘操作建议" in await tgbot.text("订阅晚盘")
    assert await tgbot.subs() == ["evening", "morning"]

    assert "已退订:早盘操作建议" in await tgbot.text("退订早盘")
    assert await tgbot.subs() == ["evening"]
    assert "订阅成功" in await tgbot.text("订阅早盘")

    reply = await tgbot.text("TD")
    assert "全部 2 项" in reply
    assert "早盘操作建议" in reply and "晚盘操作建议" in reply, "names what stopped"
    assert "订阅" in reply and "/subscribe" in reply, "says how to come back"
    assert await tgbot.subs() == []


async def test_topic_button_edits_the_menu_and_answers_the_callback(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    [view] = await tgbot.say("/topics")
    assert "sub:t:morning" in callbacks(view)
    menu_id = await menu_message_id(tgbot)
    sent_before = len(tg.sent())

    update = tg.callback(USER, "sub:t:morning", message_id=menu_id)
    await tgbot.push(update)

    assert len(tg.sent()) == sent_before, "a toggle edits the menu instead of sending anew"
    [edit] = [p for name, p in tg.requests if name == "editMessageText"]
    assert (edit["chat_id"], edit["message_id"]) == (USER, menu_id)
    assert "✅ 早盘操作建议" in edit["text"]
    assert "sub:t:morning" in callbacks(edit), "the keyboard stays on the edited menu"
    query_id = update["callback_query"]["id"]
    assert [a["callback_query_id"] for a in tg.callback_answers] == [query_id]
    assert await tgbot.subs() == ["morning"]

    # pressing it again switches it off, still in place
    await tgbot.push(tg.callback(USER, "sub:t:morning", message_id=menu_id))
    edits = [p for name, p in tg.requests if name == "editMessageText"]
    assert len(edits) == 2 and "⬜ 早盘操作建议" in edits[-1]["text"]
    assert await tgbot.subs() == []
    assert len(tg.callback_answers) == 2


@pytest.mark.parametrize("data", ["sub:t:gold", "admin:drop-tables", "x" * 64])
async def test_forged_button_data_gets_a_button_expired_reply(
    tgbot: TelegramBot, data: str
) -> None:
    tg = tgbot.tg
    await tgbot.say("/start")
    menu_id = await menu_message_id(tgbot)
    before = len(tg.sent(USER))
    update = tg.callback(USER, data, message_id=menu_id)
    await tgbot.push(update)
    replies = tg.sent(USER)[before:]
    assert replies and "这个按钮已失效" in replies[0]["text"]
    assert callbacks(replies[-1]), "and offers a fresh menu"
    assert [a["callback_query_id"] for a in tg.callback_answers] == [update["callback_query"]["id"]]
    assert await tgbot.subs() == []


async def test_sticker_and_photo_get_a_text_only_reply(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    await tgbot.push(tg.sticker(USER))
    await tgbot.push(tg.photo(USER))
    replies = tg.sent(USER)
    assert len(replies) == 2
    for reply in replies:
        assert "只能阅读文字消息" in reply["text"]
        assert callbacks(reply) == MENU
    kinds = [r.kind for r in await tgbot.archive() if r.direction == "in"]
    assert kinds == ["sticker", "photo"]


async def test_a_photo_caption_is_read_as_the_message(tgbot: TelegramBot) -> None:
    """A screenshot sent with a question: the question is answered, the photo archived."""
    tg = tgbot.tg
    await tgbot.push(tg.photo(USER, caption="订阅早盘"))
    assert "订阅成功" in tg.texts(USER)[0]
    [inbound] = [r for r in await tgbot.archive() if r.direction == "in"]
    assert inbound.payload["raw"]["message"]["photo"], "the photo itself is in the archive"


async def test_an_edited_message_is_archived_but_not_answered(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    message = tg.user_message(USER, "订阅早盘")["message"]
    update_id = await tgbot.push({"edited_message": {**message, "edit_date": message["date"]}})
    row = await tgbot.inbound(update_id)
    assert row is not None and (row.kind, row.status) == ("other", "handled")
    assert tg.sent() == [] and await tgbot.subs() == []
    await acknowledged(tg, update_id)


async def test_a_batch_from_one_chat_is_answered_in_order(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    texts = ["/subscribe morning", "/mysubs", "TD", "/mysubs"]
    ids = [tg.push_update(tg.user_message(USER, text)) for text in texts]  # one getUpdates batch
    for update_id in ids:
        await tgbot.settled(update_id)
    replies = tg.texts(USER)
    assert len(replies) == 4
    assert "订阅成功" in replies[0]
    assert "早盘操作建议" in replies[1]
    assert "全部 1 项" in replies[2]
    assert "没有订阅任何资讯" in replies[3]


# ---- persistence, acknowledgement, redelivery and recovery ------------------------------------


async def test_subscriptions_survive_a_restart(tgbot: TelegramBot) -> None:
    await tgbot.say("/subscribe morning")
    await tgbot.restart()
    reply = await tgbot.text("/mysubs")
    assert "您已订阅 1 项" in reply and "早盘操作建议" in reply


async def test_an_update_is_acknowledged_only_after_it_is_recorded(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    path = db_path(tgbot)
    seen: list[tuple[Any, set[str]]] = []  # (offset, archived update keys) at each getUpdates
    fetched: list[int] = []  # update ids getUpdates has returned
    fetch = tg._methods["getupdates"]

    async def spying_get_updates(params: JSON) -> Any:
        with sqlite3.connect(path) as db:
            keys = {k for (k,) in db.execute("SELECT dedupe_key FROM messages") if k}
        seen.append((params.get("offset"), keys))
        batch = await fetch(params)
        fetched.extend(u["update_id"] for u in batch)
        return batch

    tg._methods["getupdates"] = spying_get_updates
    await tgbot.say("/start")  # the spy is now the pending long poll
    # Hold SQLite's write lock so the poller cannot record the next update.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        update_id = tg.push_update(tg.user_message(USER, "/mysubs"))
        await eventually(lambda: update_id in fetched, what="the poller to fetch the update")
        await asyncio.sleep(0.2)  # room for a premature acknowledgement
        assert await tgbot.inbound(update_id) is None
        assert all(o is None or o <= update_id for o in tg.get_updates_offsets), (
            "acknowledged before it was recorded"
        )
    finally:
        blocker.rollback()
        blocker.close()
    await tgbot.settled(update_id)
    await acknowledged(tg, update_id)
    for n in range(3):
        await tgbot.say(f"/subscribe morning {n}")

    acks = [(o, keys) for o, keys in seen if o is not None]
    assert len(acks) >= 4
    for offset, keys in acks:
        missing = [u for u in range(1, offset) if update_key(u) not in keys]
        assert not missing, f"offset {offset} confirmed unrecorded updates {missing}"


async def test_a_redelivered_update_is_handled_exactly_once(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    update_id = await tgbot.push(tg.user_message(USER, "/subscribe morning"))
    await acknowledged(tg, update_id)
    tg.redeliver(update_id)
    tg.redeliver(update_id)
    # both copies are fetched, dropped, then confirmed by the next offset
    await eventually(lambda: not tg._queue, what="the redeliveries to be confirmed")
    await tgbot.say("/mysubs")  # a later message still flows: the poller is not stuck

    assert len(tg.texts(USER)) == 2
    assert "订阅成功" in tg.texts(USER)[0] and "已订阅 1 项" in tg.texts(USER)[1]
    assert len(await tgbot.rows(m.c.dedupe_key == update_key(update_id))) == 1
    inbound = [r for r in await tgbot.archive() if r.direction == "in"]
    assert len(inbound) == 2


async def test_a_redelivery_after_a_restart_is_still_dropped(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    update_id = await tgbot.push(tg.user_message(USER, "TD"))
    await tgbot.restart()
    tg.redeliver(update_id)
    await acknowledged(tg, update_id)
    await tgbot.say("/mysubs")
    assert len(tg.texts(USER)) == 2
    assert len([r for r in await tgbot.archive() if r.direction == "in"]) == 2


async def test_a_recorded_but_unhandled_update_is_answered_once_after_a_crash(
    tgbot: TelegramBot,
) -> None:
    tg = tgbot.tg
    await tgbot.shutdown()
    # The dying process recorded the update, then crashed before handling or acknowledging
    # it: Telegram still holds it, and the archive has it as 'received'.
    update = tg.user_message(USER, "/subscribe morning")
    update_id = tg.push_update(update)
    crashed = App(tgbot.settings)
    crashed.delivery.owner = earlier_run()  # the process that died: our pid, an earlier run
    event = to_inbound(Update.model_validate({**update, "update_id": update_id}))
    assert await crashed.inbox.record(event) is not None
    await crashed.stop()

    await tgbot.start()  # recovery answers it; the poller then gets it again and drops it
    await tgbot.settled(update_id)
    await acknowledged(tg, update_id)
    await tgbot.say("/mysubs")

    replies = tg.texts(USER)
    assert len(replies) == 2, replies
    assert "订阅成功" in replies[0] and "早盘操作建议" in replies[1]
    [row] = await tgbot.rows(m.c.dedupe_key == update_key(update_id))
    assert row.status == "handled"
    assert await tgbot.subs() == ["morning"]


async def test_rows_cut_off_by_a_crash_are_resent_if_replies_and_ambiguous_if_bulk(
    tgbot: TelegramBot,
) -> None:
    tg = tgbot.tg
    await tgbot.shutdown()
    crashed = App(tgbot.settings)  # what a crash mid-send leaves behind
    chat = f"telegram:{USER}"
    async with crashed.db.write() as tx:
        reply, bulk, queued = await tx.messages.add_outbound_many(
            [
                {"channel": "telegram", "chat": chat, "text": t, "payload": {"buttons": []},
                 "bulk": b, "status": s, "lease_owner": "gone:1:x", "lease_until": None}
                for t, b, s in (
                    ("maybe delivered", False, "sending"),
                    ("broadcast in flight", True, "sending"),
                    ("never tried", False, "pending"),
                )
            ]
        )  # fmt: skip
    await crashed.stop()

    await tgbot.start()
    await eventually(lambda: len(tg.texts(USER)) == 2, what="both replies")
    assert tg.texts(USER) == ["maybe delivered", "never tried"], "a doubled answer beats silence"
    await tgbot.restart()
    assert tg.texts(USER) == ["maybe delivered", "never tried"], "sent once after the restart"
    rows = {r.id: r.status for r in await tgbot.rows(m.c.id.in_([reply, bulk, queued]))}
    assert rows == {reply: "sent", bulk: "ambiguous", queued: "sent"}, "bulk is never resent"


# ---- stopping ---------------------------------------------------------------------------------


async def test_stop_ends_polling_promptly(tgbot: TelegramBot) -> None:
    assert tgbot.task is not None
    tgbot.stop_event.set()
    done, _ = await asyncio.wait({tgbot.task}, timeout=2.0)
    assert tgbot.task in done, "runner.run(stop) still running 2 s after stop was set"
    assert tgbot.task.result() is None
    # An update arriving now is not lost: the next process gets and answers it.
    update_id = tgbot.tg.push_update(tgbot.tg.user_message(USER, "/mysubs"))
    await tgbot.restart()
    await tgbot.settled(update_id)
    assert len(tgbot.tg.texts(USER)) == 1


async def test_polling_survives_a_gateway_page_instead_of_json(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    assert tgbot.task is not None
    real = tg._methods["getupdates"]
    calls = 0

    async def bad_gateway_once(params: JSON) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise web.HTTPBadGateway(text="<html><body>502 Bad Gateway</body></html>")
        return await real(params)

    tg._methods["getupdates"] = bad_gateway_once
    try:
        await tgbot.say("/start")  # its acknowledgement is the call that gets the 502 page
        await eventually(lambda: tgbot.task.done() or calls >= 2, what="the poller's next move")
        assert not tgbot.task.done(), f"runner died: {tgbot.task.exception()!r}"
        assert "早盘操作建议" in await tgbot.text("/subscribe morning")
    finally:
        if tgbot.task.done() and tgbot.task.exception() is not None:
            tgbot.task = None  # already dead; let the fixture close the app


async def test_a_server_error_while_starting_polling_is_retried(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await make_bot(start=False)
    bot.tg.fail_next("deleteWebhook", status=502, description="Bad Gateway")
    await bot.start()
    assert "国瑞投资" in await bot.text("/start")


async def test_a_group_message_is_answered_in_the_group(tgbot: TelegramBot) -> None:
    group = -1001234567
    await tgbot.push(tgbot.tg.user_message(USER, "/subscribe morning", chat_id=group))
    [reply] = tgbot.tg.sent(group)
    assert "订阅成功" in reply["text"]
    assert tgbot.tg.sent(USER) == []
    assert await tgbot.subs() == ["morning"], "the subscription belongs to the person"


async def test_a_user_blocking_the_bot_is_archived_and_not_answered(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    member = {"status": "member", "user": tg.me}
    update_id = await tgbot.push(
        {
            "my_chat_member": {
                "chat": {"id": USER, "type": "private", "first_name": "Tester"},
                "from": {"id": USER, "is_bot": False, "first_name": "Tester"},
                "date": 1_700_000_000,
                "old_chat_member": member,
                "new_chat_member": {**member, "status": "kicked", "until_date": 0},
            }
        }
    )
    row = await tgbot.inbound(update_id)
    assert row is not None and (row.kind, row.status, row.sender) == (
        "other", "handled", f"telegram:{USER}",
    )  # fmt: skip
    assert tg.sent() == []
    await acknowledged(tg, update_id)
