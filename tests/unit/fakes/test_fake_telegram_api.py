"""The fake Telegram Bot API, exercised through a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.channels.telegram.session import BotApiSession
from tests.fakes.telegram_api import FakeTelegram

USER = 4242
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="确认", callback_data="confirm:1")]]
)


def make_bot(tg: FakeTelegram, token: str | None = None) -> Bot:
    session = BotApiSession(tg.base_url)
    return Bot(token=token or tg.token, session=session)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(tg)
    yield bot
    await bot.session.close()


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.first_name, me.username) == (123456, True, "TestBot", "test_bot")


async def test_wrong_token_and_unknown_method(tg: FakeTelegram) -> None:
    other = make_bot(tg, token="999:other-token")
    with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
        await other.get_me()
    await other.session.close()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/bot{tg.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_send_message_records_decoded_keyboard(tg: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(USER, "你好", reply_markup=KEYBOARD)
    second = await bot.send_message(USER, "again")
    await bot.send_message(777, "other chat")
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == USER and first.chat.type == "private"
    assert first.reply_markup and first.reply_markup.model_dump() == KEYBOARD.model_dump()
    params = tg.sent(USER)[0]
    assert params["chat_id"] == USER
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "确认", "callback_data": "confirm:1"}]]
    }
    assert tg.texts(USER) == ["你好", "again"]
    assert len(tg.sent()) == 3
    assert [name for name, _ in tg.requests] == ["sendMessage"] * 3
    await tg.wait_for_sent(3, timeout=0.1)
    with pytest.raises(AssertionError, match="expected >= 4 sendMessage"):
        await tg.wait_for_sent(4, timeout=0.05)
    tg.clear()
    assert tg.sent() == [] and tg.requests == []


async def test_long_poll_wakes_immediately_on_push(tg: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    update_id = tg.push_update(tg.user_message(USER, "/start ref42"))
    updates = await asyncio.wait_for(poll, 2)
    assert loop.time() - started < 1
    [update] = updates
    assert update.update_id == update_id
    assert update.message is not None and update.message.text == "/start ref42"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "zh-hans"
    [entity] = update.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)


async def test_long_poll_times_out_with_empty_list(bot: Bot) -> None:
    assert await asyncio.wait_for(bot.get_updates(timeout=1), 3) == []


async def test_offset_confirms_and_redeliver_repeats(tg: FakeTelegram, bot: Bot) -> None:
    first = tg.push_update(tg.user_message(USER, "one"))
    second = tg.push_update(tg.sticker(USER))
    tg.push_update(tg.photo(USER, caption="receipt"))
    assert second == first + 1
    updates = await bot.get_updates(limit=2)
    assert [u.update_id for u in updates] == [first, second]
    assert updates[1].message is not None and updates[1].message.sticker is not None
    updates = await bot.get_updates(offset=second + 1)
    assert [u.message.caption for u in updates if u.message] == ["receipt"]
    last = updates[0].update_id
    assert await bot.get_updates(offset=last + 1) == []
    tg.redeliver(first)  # already confirmed, but Telegram sends it again with the same id
    [again] = await bot.get_updates(offset=last + 1)
    assert again.update_id == first and again.message and again.message.text == "one"
    assert await bot.get_updates(offset=first + 1) == []
    assert tg.get_updates_offsets == [None, second + 1, last + 1, last + 1, first + 1]


async def test_callback_query_roundtrip(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "choose", reply_markup=KEYBOARD)
    tg.push_update(tg.callback(USER, "confirm:1", message_id=sent.message_id))
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.data == "confirm:1" and query.from_user.id == USER
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert query.message.chat.id == USER and query.message.reply_markup is not None
    assert await bot.answer_callback_query(query.id, text="已确认") is True
    assert tg.callback_answers == [{"callback_query_id": query.id, "text": "已确认"}]


async def test_retry_after_raises_then_recovers(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(USER, "hi")
    assert excinfo.value.retry_after == 7
    await bot.send_message(USER, "hi")
    assert tg.texts(USER) == ["hi"]  # only the successful send
    assert len(tg.requests) == 2  # but both calls reached the server


async def test_blocked_user_is_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    tg.blocked_users.add(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "hi")
    assert tg.sent() == []


@pytest.mark.parametrize(
    "text",
    ["<b>unclosed", "line<br>break", "AT&T", "</b>", "<b><i>x</b></i>", "<span>x</span>", "a < b"],
)
async def test_html_parse_errors(bot: Bot, text: str) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, text, parse_mode="HTML")


async def test_valid_html_is_parsed_into_entities(bot: Bot) -> None:
    msg = await bot.send_message(
        USER,
        '  <b>粗体</b> &amp; <a href="https://e.com/?a=1&amp;b=2">link</a> '
        "<tg-spoiler>x</tg-spoiler>\n<blockquote expandable>q</blockquote>",
        parse_mode="HTML",
    )
    assert msg.text == "粗体 & link x\nq"  # leading whitespace stripped, entities shifted
    assert [(e.type, e.offset, e.length) for e in msg.entities or []] == [
        ("bold", 0, 2), ("text_link", 5, 4), ("spoiler", 10, 1), ("expandable_blockquote", 12, 1)
    ]  # fmt: skip
    assert msg.entities and msg.entities[1].url == "https://e.com/?a=1&b=2"


async def test_text_limits(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "&lt;" * 4097, parse_mode="HTML")
    for empty in ("", "  \n ", "<b> </b>"):
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(USER, empty, parse_mode="HTML")


async def test_edit_rules(tg: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_message(USER, "draft", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("draft", chat_id=USER, message_id=msg.message_id,
                                    reply_markup=KEYBOARD)  # fmt: skip
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=USER, message_id=msg.message_id, reply_markup=KEYBOARD
        )
    edited = await bot.edit_message_text("final", chat_id=USER, message_id=msg.message_id)
    assert isinstance(edited, Message) and edited.text == "final"
    assert edited.reply_markup is None  # omitting reply_markup removes the keyboard
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_reply_markup(chat_id=USER, message_id=999, reply_markup=KEYBOARD)


async def test_webhook_conflicts_with_polling(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    assert await bot.set_webhook("https://example.com/hook", secret_token="s3cret") is True
    assert (tg.webhook_url, tg.webhook_secret_token) == ("https://example.com/hook", "s3cret")
    with pytest.raises(TelegramConflictError, match="terminated by setWebhook"):
        await asyncio.wait_for(poll, 2)
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    tg.push_update(tg.user_message(USER, "queued"))
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert tg.webhook_url is None
    assert await bot.get_updates() == []


async def test_second_poller_terminates_the_first(bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)
    assert await second == []


async def test_stalled_response_times_out_after_delivery(tg: FakeTelegram, bot: Bot) -> None:
    tg.stall_next("sendMessage", 5)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(USER, "maybe", request_timeout=1)
    assert tg.texts(USER) == ["maybe"]  # the message went out although the client timed out


async def test_dispatcher_polling_end_to_end(tg: FakeTelegram) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    bot = make_bot(tg)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    update_id = tg.push_update(tg.user_message(USER, "hello"))
    await tg.wait_for_sent(1)
    assert tg.texts(USER) == ["echo: hello"]
    await dp.stop_polling()
    await asyncio.wait_for(polling, 5)
    assert tg.get_updates_offsets[0] is None
    assert update_id + 1 in tg.get_updates_offsets
