"""Replies through TelegramSender + Delivery against the fake Bot API: splitting, HTML,
rate limits, blocked users and ambiguous sends."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from aiohttp import web

from bot.app import App
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.session import BotApiSession
from bot.config import Settings
from bot.core.delivery import Limits
from bot.core.text import to_plain
from bot.core.types import Button, Outbound
from storage.records import StoredMessage
from storage.schema import leases
from tests.e2e.telegram.conftest import USER, TelegramBot
from tests.fakes.clock import FakeTime
from tests.fakes.telegram_api import JSON, MAX_TEXT, FakeTelegram
from tests.support import eventually

CHAT = f"telegram:{USER}"
CLIENT_TIMEOUT = 0.5  # seconds; the Bot's own request timeout in these tests
FAST = Limits(rate=1000, chat_interval=0.0, group_per_minute=20)


@dataclass
class Outbox:
    """The delivery half of the bot: App + a TelegramSender on a short-timeout Bot, in
    virtual time (`time`): waits for retry_after or backoff take no real time."""

    tg: FakeTelegram
    app: App
    bot: Bot
    sender: TelegramSender
    time: FakeTime

    async def write(self, *outs: Outbound, chat: str = CHAT, **kw: object) -> list[int]:
        """Write rows as a staff command would (pending, for the worker to claim)."""
        async with self.app.db.write() as tx:
            ids = await self.app.delivery.enqueue(
                tx, list(outs), chat=chat, t=self.app.translator, **kw
            )
        self.app.delivery.notify("telegram")
        return ids

    async def send(self, *outs: Outbound, chat: str = CHAT, ref_id: str | None = None) -> list[int]:
        """Write the rows, then wait until each is final; returns the row ids."""
        ids = await self.write(*outs, chat=chat, ref_id=ref_id)
        await self.settled(ids)
        return ids

    async def settled(self, ids: list[int], timeout: float = 20.0) -> dict[int, str]:
        states = await self.app.delivery.settled(ids, timeout=timeout)
        assert all(s != "pending" for s in states.values()), states
        return states

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


async def open_outbox(
    tg: FakeTelegram, settings: Settings, time: FakeTime | None, limits: Limits = FAST
) -> Outbox:
    """In virtual time (`time`), or in real time with short leases (`time=None`: several
    processes, where virtual time would let leases run out under real I/O)."""
    session = BotApiSession(tg.base_url, timeout=CLIENT_TIMEOUT)
    bot = Bot(token=tg.token, session=session)
    if time is not None:
        tg.clock = time.now  # the fake's holds run on the same virtual clock
        app = App(settings, clock=time, timer=time)
        # Not while a worker was woken and has yet to look: on a busy machine that look can
        # take longer than the idle moment, and time must not jump past work just written.
        time.quiet = lambda: (
            not (
                app.db.writing
                or app.delivery.sending
                or any(w.wake.is_set() for w in app.delivery.workers.values())
            )
        )
        # Virtual time races through long waits; fewer idle polls and renewals make it faster.
        app.delivery.lease, app.delivery.poll = 3600.0, 3600.0
    else:
        app = App(settings)
        # Long enough that a loop stalled by a busy machine does not pass for a dead process
        # (its rows would rightly be sent again: a doubled reply beats silence).
        app.delivery.lease, app.delivery.poll = 6.0, 0.1
    sender = TelegramSender(bot, limits)
    app.add_sender(sender)
    await app.start()
    return Outbox(tg, app, bot, sender, time or FakeTime())


@pytest.fixture
async def outbox(
    tg: FakeTelegram, tg_settings: Callable[..., Settings], fake_time: FakeTime
) -> AsyncIterator[Outbox]:
    box = await open_outbox(tg, tg_settings(), fake_time)
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
    outbox.tg.flood_next(retry_after=3)
    started = outbox.time.now()
    [message_id] = await outbox.send(Outbound("限流后重试"))
    assert outbox.time.now() - started >= 3, "waited retry_after before trying again"
    assert len(outbox.calls()) == 2
    assert outbox.tg.calls_during_holds == 0, "no call at all during the hold"
    assert outbox.tg.texts(USER) == ["限流后重试"]
    row = await outbox.row(message_id)
    assert (row.status, row.attempts) == ("sent", 2), "attempts counts platform calls"


async def test_a_long_429_returns_the_row_to_the_queue_until_it_is_over(outbox: Outbox) -> None:
    outbox.tg.flood_next(retry_after=60)
    [message_id] = await outbox.send(Outbound("稍后再发"))
    row = await outbox.row(message_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert "retry after 60" in (row.error or ""), "it waited in the queue, not in memory"
    (first, *_), (second, *_) = outbox.tg.calls
    assert second - first >= 60, "not tried again before the hold was over"
    assert outbox.tg.calls_during_holds == 0
    assert outbox.tg.texts(USER) == ["稍后再发"]


async def test_a_long_outage_is_waited_out_not_given_up(outbox: Outbox) -> None:
    outbox.tg.fail_next("sendMessage", status=502, description="Bad Gateway", count=30)
    started = outbox.time()
    [message_id] = await outbox.send(Outbound("断网期间的消息"))
    row = await outbox.row(message_id)
    assert (row.status, row.attempts) == ("sent", 31), "far more tries than a fixed limit"
    assert outbox.time() - started > timedelta(hours=2), "backing off up to 10 minutes apart"
    assert outbox.tg.texts(USER) == ["断网期间的消息"]


async def test_an_outage_of_more_than_two_days_fails_the_row(outbox: Outbox) -> None:
    outbox.tg.fail_next("sendMessage", status=502, description="Bad Gateway", count=10_000)
    [message_id] = await outbox.send(Outbound("过期的消息"))
    row = await outbox.row(message_id)
    assert row.status == "failed" and "Bad Gateway" in (row.error or "")
    assert outbox.time() - row.created_at > timedelta(days=2)


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
    assert len(outbox.calls()) == 2


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


async def test_a_reply_whose_send_timed_out_is_sent_again(outbox: Outbox) -> None:
    """It may have arrived, but a doubled answer beats silence."""
    outbox.tg.stall_next("sendMessage", CLIENT_TIMEOUT * 6)
    [message_id] = await outbox.send(Outbound("可能已送达"))
    row = await outbox.row(message_id)
    assert (row.status, row.attempts) == ("sent", 2), row.error
    assert outbox.tg.texts(USER) == ["可能已送达", "可能已送达"], "Telegram got the first too"


async def test_a_bulk_message_whose_send_timed_out_is_ambiguous_never_resent(
    outbox: Outbox,
) -> None:
    outbox.tg.stall_next("sendMessage", CLIENT_TIMEOUT * 6)
    [message_id] = await outbox.write(Outbound("早盘提示"), bulk=True)
    await outbox.settled([message_id])
    row = await outbox.row(message_id)
    assert row.status == "ambiguous", row.error
    assert len(outbox.calls()) == 1, "never sent twice"


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


# ---- two processes on one database ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest, db_url: str) -> str:
    return db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


async def test_two_processes_on_one_database_send_each_row_once(
    tg: FakeTelegram, tg_settings: Callable[..., Settings], shared_url: str
) -> None:
    settings = tg_settings(DATABASE_URL=shared_url)
    first = await open_outbox(tg, settings, None)
    second = await open_outbox(tg, settings, None)
    try:
        ids = await first.write(*(Outbound(f"第{i}条") for i in range(40)), chat=CHAT)
        ids += await second.write(*(Outbound(f"第{i}条") for i in range(40, 80)), chat="telegram:7")
        await eventually(lambda: len(tg.sent()) >= 80, what="all 80 messages")
        await asyncio.sleep(0.2)  # anything sent twice would show by now
        texts = [p["text"] for p in tg.sent()]
        assert sorted(texts) == sorted(f"第{i}条" for i in range(80)), "each exactly once"
        leaders = [box for box in (first, second) if box.app.delivery.workers["telegram"].leader]
        assert len(leaders) == 1, "one process delivers for the bot token"
        async with first.app.db.read() as tx:
            rows = await tx.messages.get_many(ids)
        assert {r.status for r in rows} == {"sent"}
    finally:
        await first.close()
        await second.close()


async def test_a_process_starting_beside_a_delivering_one_leaves_its_rows_alone(
    tg: FakeTelegram, tg_settings: Callable[..., Settings], shared_url: str
) -> None:
    """The newcomer takes over nothing that is alive: no row of the other is requeued or
    marked ambiguous, and the other finishes its broadcast."""
    settings = tg_settings(DATABASE_URL=shared_url)
    first = await open_outbox(tg, settings, None, Limits(rate=20, chat_interval=0.0))
    second = None
    try:
        ids = await first.write(
            *(Outbound(f"早盘{i}") for i in range(30)), chat="telegram:-100", bulk=True
        )
        await eventually(lambda: len(tg.sent()) >= 3, what="the broadcast to be under way")
        second = await open_outbox(tg, settings, None)
        assert not second.app.delivery.workers["telegram"].leader

        async def all_sent() -> bool:
            async with first.app.db.read() as tx:
                rows = await tx.messages.get_many(ids)
            assert not [r for r in rows if r.status == "ambiguous"], "never marked ambiguous"
            return all(r.status == "sent" for r in rows)

        await eventually(all_sent, timeout=30, what="the whole broadcast")
        assert sorted(p["text"] for p in tg.sent()) == sorted(f"早盘{i}" for i in range(30))
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_a_process_that_loses_its_channel_hands_back_what_it_held(
    tg: FakeTelegram, tg_settings: Callable[..., Settings], shared_url: str
) -> None:
    """Its lease taken over (it stalled too long), a process stops sending at once and
    gives back the rows it held but had not tried; the new holder sends them, once each."""
    settings = tg_settings(DATABASE_URL=shared_url)
    slow = Limits(rate=4, chat_interval=0.0)
    first = await open_outbox(tg, settings, None, slow)
    second = await open_outbox(tg, settings, None, slow)
    try:
        ids = await first.write(*(Outbound(f"消息{i}") for i in range(12)), chat="telegram:-5")
        await eventually(lambda: len(tg.sent()) >= 2, what="the first sends")
        async with second.app.db.write() as tx:  # as if first's renewal came too late
            await tx.conn.execute(
                leases.update()
                .where(leases.c.name == "delivery:telegram")
                .values(
                    owner=second.app.delivery.owner, until=datetime.now(UTC) + timedelta(seconds=10)
                )
            )
        await eventually(
            lambda: (
                not first.app.delivery.workers["telegram"].leader
                and second.app.delivery.workers["telegram"].leader
            ),
            timeout=10,
            what="the channel to change hands",
        )

        async def all_sent() -> bool:
            async with second.app.db.read() as tx:
                rows = await tx.messages.get_many(ids)
            return all(r.status == "sent" for r in rows)

        await eventually(all_sent, timeout=30, what="every row sent")
        texts = [p["text"] for p in tg.sent()]
        assert sorted(texts) == sorted(f"消息{i}" for i in range(12)), "each exactly once"
    finally:
        await first.close()
        await second.close()
