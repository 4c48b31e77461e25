"""Replies through TelegramSender + Delivery against the fake Bot API: splitting, HTML,
rate limits, blocked users and ambiguous sends."""

from __future__ import annotations

import asyncio
import html
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.app import App
from bot.channels.telegram.sender import TelegramSender
from bot.config import Settings
from bot.core.text import to_plain
from bot.core.types import Button, Outbound
from storage.records import StoredMessage
from storage.schema import messages as m
from tests.fakes.telegram_api import JSON, MAX_TEXT, FakeTelegram
from tests.telegram.conftest import USER, TelegramBot, eventually

CHAT = f"telegram:{USER}"
CLIENT_TIMEOUT = 0.5  # seconds; the Bot's own request timeout in these tests


@dataclass
class Outbox:
    """The delivery half of the bot: App + a TelegramSender on a short-timeout Bot."""

    tg: FakeTelegram
    app: App
    bot: Bot
    sender: TelegramSender

    async def send(self, *outs: Outbound, chat: str = CHAT, ref_id: str | None = None) -> list[int]:
        """Write the rows as a handler would, then deliver them; returns the row ids."""
        async with self.app.db.write() as tx:
            ids = await self.app.delivery.enqueue(
                tx, list(outs), chat=chat, ref_id=ref_id, t=self.app.translator
            )
        await self.app.delivery.flush(ids)
        return ids

    async def row(self, message_id: int) -> StoredMessage:
        async with self.app.db.read() as tx:
            row = await tx.messages.get(message_id)
        assert row is not None
        return row

    def calls(self, method: str = "sendMessage") -> list[JSON]:
        return [p for name, p in self.tg.requests if name == method]

    async def close(self) -> None:
        await self.app.stop()
        await self.bot.session.close()


async def open_outbox(tg: FakeTelegram, settings: Settings) -> Outbox:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url), timeout=CLIENT_TIMEOUT)
    bot = Bot(token=tg.token, session=session)
    app = App(settings)
    sender = TelegramSender(bot, rate_limit=1000)
    app.add_sender(sender)
    await app.start(sweep=False)
    return Outbox(tg, app, bot, sender)


@pytest.fixture
async def outbox(tg: FakeTelegram, tg_settings: Callable[..., Settings]) -> AsyncIterator[Outbox]:
    box = await open_outbox(tg, tg_settings())
    try:
        yield box
    finally:
        await box.close()


MENU = [[Button("早盘", "sub:t:morning"), Button("官网", url="https://example.com/")]]


# ---- splitting --------------------------------------------------------------------------------


async def test_a_long_reply_is_split_at_line_boundaries_with_buttons_on_the_last(
    outbox: Outbox,
) -> None:
    lines = [f"第{i:03d}行 " + "资讯内容" * 8 + f" line {i}" for i in range(300)]
    text = "\n".join(lines)
    assert len(text) > 10_000
    ids = await outbox.send(Outbound(text, buttons=MENU))

    sent = outbox.tg.sent(USER)
    assert len(sent) == len(ids) >= 3
    assert len(outbox.calls()) == len(sent), "no part was rejected and resent"
    parts = [p["text"] for p in sent]
    assert all(len(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts) == text, "cut only between lines, nothing lost or reordered"
    assert [("reply_markup" in p) for p in sent] == [False] * (len(sent) - 1) + [True]
    assert sent[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "sub:t:morning"
    assert [(await outbox.row(i)).status for i in ids] == ["sent"] * len(ids)


async def test_markup_open_across_a_cut_is_closed_and_reopened(outbox: Outbox) -> None:
    body = "\n".join(f"<i>{n}</i> 盘中风险 &amp; 提示 &lt;重要&gt;" for n in range(600))
    text = f"<b>标题</b>\n<b>{body}</b>"
    await outbox.send(Outbound(text))
    sent = outbox.tg.sent(USER)
    assert len(sent) >= 3
    assert len(outbox.calls()) == len(sent), "every part was valid HTML on the first try"
    assert all(p.get("parse_mode") == "HTML" for p in sent)
    assert all(p["text"].endswith("</b>") for p in sent)
    assert all(p["text"].startswith("<b>") for p in sent[1:])


async def test_a_users_long_text_echoed_back_escaped_is_split_into_valid_parts(
    tgbot: TelegramBot,
) -> None:
    words = " ".join(["<&>" * 13] * 100)  # escaping makes the echo about four times longer
    message = "订阅 " + words
    assert len(message) <= MAX_TEXT, "what Telegram lets a person send"
    replies = await tgbot.say(message)
    assert len(replies) >= 3
    assert all(len(p["text"]) <= MAX_TEXT for p in replies)
    assert all(p.get("parse_mode") == "HTML" for p in replies)
    assert len([n for n, _ in tgbot.tg.requests if n == "sendMessage"]) == len(replies)
    echoed = html.unescape("".join(p["text"] for p in replies))
    assert echoed.count("<&>" * 13) == 100
    assert await tgbot.subs() == []


# ---- escaping ---------------------------------------------------------------------------------


async def test_user_text_with_html_characters_is_escaped_in_replies(tgbot: TelegramBot) -> None:
    [reply] = await tgbot.say("订阅 <b>x&y<z")
    assert "&lt;b&gt;x&amp;y&lt;z" in reply["text"]
    assert reply["parse_mode"] == "HTML"
    [reply] = await tgbot.say("/<b>&<")
    assert "&lt;b&gt;&amp;&lt;" in reply["text"]
    requests = [p for n, p in tgbot.tg.requests if n == "sendMessage"]
    assert len(requests) == 2, "accepted as HTML the first time, no plain-text fallback"


async def test_a_display_name_with_html_is_escaped(tgbot: TelegramBot) -> None:
    [reply] = await tgbot.say("/profile", first_name="<b>Bob & <Co>")
    assert "&lt;b&gt;Bob &amp; &lt;Co&gt;" in reply["text"]
    assert len([n for n, _ in tgbot.tg.requests if n == "sendMessage"]) == 1


# ---- platform errors --------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after_and_sent_once(outbox: Outbox) -> None:
    outbox.tg.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    started = time.monotonic()
    [message_id] = await outbox.send(Outbound("限流后重试"))
    assert time.monotonic() - started >= 0.95, "waited retry_after before trying again"
    assert len(outbox.calls()) == 2
    assert outbox.tg.texts(USER) == ["限流后重试"]
    row = await outbox.row(message_id)
    assert (row.status, row.attempts) == ("sent", 2), "attempts counts platform calls"


async def test_429_longer_than_max_wait_goes_back_to_the_queue(outbox: Outbox) -> None:
    outbox.tg.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 60", retry_after=60
    )
    started = time.monotonic()
    [message_id] = await outbox.send(Outbound("稍后再发"))
    assert time.monotonic() - started < 1, "did not sleep 60 s holding the chat"
    row = await outbox.row(message_id)
    assert row.status == "pending"
    assert row.next_attempt_at is not None and row.next_attempt_at > datetime.now(UTC)
    assert await outbox.app.delivery.sweep() == 0, "not tried again before retry_after"
    assert len(outbox.calls()) == 1
    # A minute later: the row is due and the bot-wide pause is over.
    async with outbox.app.db.write() as tx:
        await tx.messages.set_status(message_id, "pending", not_before=datetime.now(UTC))
    outbox.sender.limiter.paused_until = 0.0
    assert await outbox.app.delivery.sweep() == 1
    assert (await outbox.row(message_id)).status == "sent"
    assert outbox.tg.texts(USER) == ["稍后再发"]


async def test_a_long_outage_is_waited_out_not_given_up(outbox: Outbox) -> None:
    outbox.tg.fail_next("sendMessage", status=502, description="Bad Gateway", count=30)
    [message_id] = await outbox.send(Outbound("断网期间的消息"))
    for _ in range(12):  # far more tries than any fixed attempt limit would allow
        async with outbox.app.db.write() as tx:
            await tx.messages.set_status(message_id, "pending", not_before=datetime.now(UTC))
        await outbox.app.delivery.sweep()
    assert (await outbox.row(message_id)).status == "pending"
    outbox.tg._failures["sendmessage"].clear()
    async with outbox.app.db.write() as tx:
        await tx.messages.set_status(message_id, "pending", not_before=datetime.now(UTC))
    await outbox.app.delivery.sweep()
    assert (await outbox.row(message_id)).status == "sent"
    assert outbox.tg.texts(USER) == ["断网期间的消息"]


async def test_a_server_error_is_retried(outbox: Outbox) -> None:
    outbox.tg.fail_next("sendMessage", status=502, description="Bad Gateway")
    [message_id] = await outbox.send(Outbound("网关错误后重试"))
    assert len(outbox.calls()) == 2
    assert (await outbox.row(message_id)).status == "sent"


async def test_403_blocked_marks_the_row_blocked_and_others_still_get_replies(
    outbox: Outbox,
) -> None:
    outbox.tg.blocked_users.add(USER)
    [blocked] = await outbox.send(Outbound("你好"))
    row = await outbox.row(blocked)
    assert row.status == "blocked" and "blocked" in (row.error or "")
    assert len(outbox.calls()) == 1, "a block is final: no retry"
    [other] = await outbox.send(Outbound("你好"), chat="telegram:777")
    assert (await outbox.row(other)).status == "sent"
    assert await outbox.app.delivery.sweep() == 0


async def test_a_rejected_message_is_failed_not_retried(outbox: Outbox) -> None:
    outbox.tg.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    [message_id] = await outbox.send(Outbound("没有这个对话"))
    row = await outbox.row(message_id)
    assert row.status == "failed" and "chat not found" in (row.error or "")
    assert len(outbox.calls()) == 1


async def test_an_html_parse_error_is_resent_as_plain_text(outbox: Outbox) -> None:
    outbox.tg.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: can't parse entities: Unsupported start tag at byte offset 0",
    )
    text = "<b>早盘</b> 提示 &amp; 说明"
    [message_id] = await outbox.send(Outbound(text, buttons=MENU))
    first, second = outbox.calls()
    assert first["parse_mode"] == "HTML"
    assert "parse_mode" not in second
    assert second["text"] == to_plain(text) == "早盘 提示 & 说明"
    assert second["reply_markup"] == first["reply_markup"], "buttons survive the fallback"
    assert (await outbox.row(message_id)).status == "sent"


async def test_markup_telegram_rejects_still_reaches_the_person(outbox: Outbox) -> None:
    [message_id] = await outbox.send(Outbound("<b>未闭合的标签 & 符号"))
    assert [p.get("parse_mode") for p in outbox.calls()] == ["HTML", None]
    assert outbox.tg.texts(USER) == ["未闭合的标签 & 符号"]
    assert (await outbox.row(message_id)).status == "sent"


async def test_a_stalled_send_becomes_ambiguous_and_is_never_resent(outbox: Outbox) -> None:
    outbox.tg.stall_next("sendMessage", CLIENT_TIMEOUT * 6)
    [message_id] = await outbox.send(Outbound("可能已送达"))
    row = await outbox.row(message_id)
    assert row.status == "ambiguous", row.error
    assert outbox.tg.texts(USER) == ["可能已送达"], "Telegram did get it"
    assert await outbox.app.delivery.sweep() == 0
    await outbox.app.delivery.recover()
    await outbox.app.delivery.flush([message_id])
    assert len(outbox.calls()) == 1, "never sent twice"
    assert (await outbox.row(message_id)).status == "ambiguous"


async def test_a_gateway_page_instead_of_json_is_not_reported_as_a_crash(
    outbox: Outbox,
) -> None:
    """A proxy in front of the Bot API can answer 502 with an HTML page; aiogram then raises
    ClientDecodeError, which is not a TelegramAPIError. It is a transient platform error
    (retry) or at worst ambiguous, never a sender crash."""
    real = outbox.tg._methods["sendmessage"]
    calls = 0

    async def bad_gateway_once(params: JSON) -> JSON:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise web.HTTPBadGateway(text="<html><body>502 Bad Gateway</body></html>")
        return await real(params)

    outbox.tg._methods["sendmessage"] = bad_gateway_once
    [message_id] = await outbox.send(Outbound("网关页面"))
    row = await outbox.row(message_id)
    assert row.status == "sent", row.error
    assert len(outbox.calls()) == 2, "retried as a transient platform error"
    assert outbox.tg.texts(USER) == ["网关页面"]


# ---- editing ----------------------------------------------------------------------------------


async def test_a_replace_edits_in_place_and_falls_back_to_a_new_message(outbox: Outbox) -> None:
    [first] = await outbox.send(Outbound("菜单", buttons=MENU))
    menu_id = (await outbox.row(first)).platform_id
    [edited] = await outbox.send(Outbound("新菜单", buttons=MENU, replace=True), ref_id=menu_id)
    assert (await outbox.row(edited)).platform_id == menu_id
    [same] = await outbox.send(Outbound("新菜单", buttons=MENU, replace=True), ref_id=menu_id)
    assert (await outbox.row(same)).status == "sent", "'not modified' counts as done"
    assert len(outbox.tg.sent(USER)) == 1

    [gone] = await outbox.send(Outbound("找不到原消息", replace=True), ref_id="999")
    row = await outbox.row(gone)
    assert row.status == "sent" and row.platform_id not in (None, "999")
    assert outbox.tg.texts(USER)[-1] == "找不到原消息"


# ---- two deliverers racing for one row (PostgreSQL) -------------------------------------------


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (TEST_POSTGRES_URL's server), dropped afterwards."""
    admin = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    try:
        conn = await asyncpg.connect(_dsn(admin), timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL not reachable ({type(exc).__name__}); set TEST_POSTGRES_URL")
    name = f"tgtest_{uuid.uuid4().hex[:12]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_two_deliverers_racing_for_one_row_send_it_once(
    tg: FakeTelegram, tg_settings: Callable[..., Settings], pg_url: str
) -> None:
    """The sweeper and a handler's flush (or two processes) can pick up the same pending row."""
    outbox = await open_outbox(tg, tg_settings(DATABASE_URL=pg_url))
    holder = await asyncpg.connect(_dsn(pg_url))
    watcher = await asyncpg.connect(_dsn(pg_url))  # outside any transaction: fresh statistics
    racers: list[asyncio.Task[str]] = []
    try:
        async with outbox.app.db.write() as tx:
            [message_id] = await outbox.app.delivery.enqueue(tx, [Outbound("只发一次")], chat=CHAT)
        # Hold the row so both claims have read 'pending' before either can update it.
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT id FROM messages WHERE id = $1 FOR UPDATE", message_id)
        racers += [asyncio.create_task(outbox.app.delivery.send_one(message_id)) for _ in "ab"]

        async def both_waiting() -> bool:
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return waiting == 2

        await eventually(both_waiting, what="both claims to wait for the row")
        await lock.rollback()
        await asyncio.gather(*racers)
        assert len(outbox.calls()) == 1, "the reply was sent twice"
        assert (await outbox.row(message_id)).status == "sent"
    finally:
        await holder.close()
        await watcher.close()
        await asyncio.gather(*racers, return_exceptions=True)
        await outbox.close()


# ---- shutting down while a reply waits out a rate limit --------------------------------------


async def test_a_reply_waiting_out_a_rate_limit_at_shutdown_is_sent_after_restart(
    tgbot: TelegramBot,
) -> None:
    tg = tgbot.tg
    tg.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 20", retry_after=20
    )
    tg.push_update(tg.user_message(USER, "/start"))
    await eventually(lambda: tg.requests and tg.requests[-1][0] == "sendMessage", what="the 429")
    old = tgbot.runner
    await tgbot.shutdown()  # waits the full drain timeout, then closes
    leftovers = list(old.tasks)
    for task in leftovers:  # the process exits: whatever still runs dies with it
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)

    await tgbot.start()
    [reply] = await tgbot.rows(m.c.direction == "out")
    assert reply.status == "pending", "refused by Telegram, so not ambiguous: it will be sent"
    assert reply.next_attempt_at is not None, "and not before retry_after is over"
    # Time passes: the row falls due, the bot-wide pause ends, the sweep sends it.
    async with tgbot.app.db.write() as tx:
        await tx.messages.set_status(reply.id, "pending", not_before=datetime.now(UTC))
    tgbot.runner.sender.limiter.paused_until = 0.0
    await tgbot.app.delivery.sweep()
    await eventually(lambda: tg.sent(USER), timeout=3, what="the greeting after the restart")
    assert "国瑞投资" in tg.texts(USER)[0]
