"""Poison input never stalls the line: an update that cannot be stored as it is, cannot be
read, or is refused by the database is cleaned, archived as it came, or quarantined after
three tries, and everyone else is answered. Same for the webhook, plus what can never be an
update (nested too deep, trickling in, idle connections)."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot import server
from bot.channels.telegram import webhook
from storage.schema import messages as m
from tests.e2e.telegram.conftest import USER, TelegramBot, update_key
from tests.e2e.telegram.test_webhook import SECRET, hook_url, post, update
from tests.support import ROOT, eventually

LONE = "早盘\ud800订阅"  # what JSON's "\ud800" decodes to: no UTF-8 form exists


def refuse_in_database(bot: TelegramBot, marker: str) -> None:
    """The database itself refuses to record a message containing `marker` (a trigger, so
    nothing of ours is patched); the quarantine form (no text, status failed) passes."""
    path = make_url(bot.settings.core.database_url).database
    with sqlite3.connect(str(path), timeout=30) as conn:  # the bot may be writing
        conn.execute(
            f"CREATE TRIGGER poison BEFORE INSERT ON messages "
            f"WHEN NEW.text LIKE '%{marker}%' AND NEW.status = 'received' "
            f"BEGIN SELECT RAISE(ABORT, 'refused by the disk'); END"
        )


async def failed_messages(bot: TelegramBot, *args: str) -> tuple[int, str, str]:
    """`python -m bot messages failed ARGS` on the bot's database."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "messages", "failed", *args,
        env={"DATABASE_URL": bot.settings.core.database_url, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def quarantined(bot: TelegramBot, update_id: int) -> None:
    async def check() -> bool:
        row = await bot.inbound(update_id)
        return row is not None and row.status == "failed"

    await eventually(check, timeout=20, what=f"update {update_id} to be quarantined")


# ---- long polling -----------------------------------------------------------------------------


async def test_a_lone_surrogate_is_cleaned_and_the_message_answered(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    poisoned = tg.push_update(tg.user_message(USER, f"订阅 {LONE}"))
    after = tg.push_update(tg.user_message(USER + 1, "/start"))
    await tgbot.settled(poisoned)
    await tgbot.settled(after)
    row = await tgbot.inbound(poisoned)
    assert row is not None and row.status == "handled"
    assert row.text == "订阅 早盘\ufffd订阅", "stored with U+FFFD in the surrogate's place"
    assert tg.sent(USER) and tg.sent(USER + 1)


async def test_an_update_aiogram_cannot_read_is_archived_and_the_rest_go_on(
    tgbot: TelegramBot,
) -> None:
    tg = tgbot.tg
    broken = tg.push_update({"message": {"message_id": 1, "date": "yesterday", "text": "hi"}})
    after = tg.push_update(tg.user_message(USER, "/start"))
    await tgbot.settled(after)
    row = await tgbot.inbound(broken)
    assert row is not None and row.kind == "other" and row.status == "handled"
    assert row.payload["raw"]["message"]["date"] == "yesterday", "kept as it came"
    assert len(tg.sent(USER)) == 1


async def test_an_update_the_database_refuses_is_quarantined_and_the_rest_go_on(
    tgbot: TelegramBot,
) -> None:
    tg = tgbot.tg
    refuse_in_database(tgbot, "POISON")
    poisoned = tg.push_update(tg.user_message(USER, "POISON pill"))
    after = tg.push_update(tg.user_message(USER + 1, "/start"))
    await quarantined(tgbot, poisoned)
    await tgbot.settled(after)
    assert len(tg.sent(USER + 1)) == 1, "the next one was answered"
    assert tg.sent(USER) == []
    row = await tgbot.inbound(poisoned)
    assert row is not None and "refused by the disk" in (row.error or "")
    assert json.loads(row.payload["raw_json"])["message"]["text"] == "POISON pill"
    # Acknowledged: the next long poll asks past it, so Telegram stops sending it.
    await eventually(
        lambda: max((o for o in tg.get_updates_offsets if o is not None), default=0) > after,
        what="the offset to move past the quarantined update",
    )
    code, out, err = await failed_messages(tgbot, "--json")
    assert code == 0, err
    [line] = [json.loads(x) for x in out.splitlines()]
    assert line["dedupe_key"] == update_key(poisoned) and "refused" in line["error"]


# ---- webhook ----------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def test_webhook_a_lone_surrogate_is_recorded_and_answered(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    body = json.dumps(update(webhook_bot, "订阅 早盘\\ud800", 11)).replace("\\\\ud800", "\\ud800")
    assert "\\ud800" in body
    status, _ = await post(http, webhook_bot, body)
    assert status == 200
    row = await webhook_bot.settled(11)
    assert row.status == "handled" and "\ufffd" in (row.text or "")


async def test_webhook_an_update_the_database_refuses_is_quarantined_on_the_third_try(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    refuse_in_database(webhook_bot, "POISON")
    body = update(webhook_bot, "POISON pill", 21)
    statuses = [(await post(http, webhook_bot, body))[0] for _ in range(3)]
    assert statuses == [500, 500, 200], "Telegram retries twice, then we keep it aside"
    row = await webhook_bot.inbound(21)
    assert row is not None and row.status == "failed"
    assert (await post(http, webhook_bot, update(webhook_bot, "/start", 22)))[0] == 200
    await webhook_bot.settled(22)
    assert webhook_bot.tg.sent(USER)


async def test_webhook_json_nested_too_deep_is_a_400(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    deep = '{"update_id": 1, "message": ' + "[" * 50_000 + "]" * 50_000 + "}"
    status, reply = await post(http, webhook_bot, deep)
    assert status == 400 and reply["ok"] is False
    assert await webhook_bot.rows() == []
    assert (await post(http, webhook_bot, update(webhook_bot, "/start", 2)))[0] == 200


async def test_webhook_a_body_that_trickles_in_is_cut_off(
    webhook_bot: TelegramBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "BODY_TIMEOUT", 0.5)
    s = webhook_bot.settings
    reader, writer = await asyncio.open_connection(s.http.host, s.http.port)
    writer.write(
        (
            f"POST {s.telegram.webhook_path} HTTP/1.1\r\nHost: x\r\n"
            f"{webhook.SECRET_HEADER}: {SECRET}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{"
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b"408" in status_line
    writer.close()


async def test_webhook_idle_connections_are_closed_and_capped(
    make_bot: object, monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    monkeypatch.setattr(server, "KEEPALIVE", 0.5)
    monkeypatch.setattr(server, "MAX_CONNECTIONS", 20)
    from tests.support import free_port

    bot: TelegramBot = await make_bot(  # type: ignore[operator]
        TELEGRAM_MODE="webhook",
        TELEGRAM_WEBHOOK_URL="https://example.com/hook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(free_port()),
    )
    s = bot.settings
    idle = []
    for _ in range(40):  # connect and never say a word
        sock = socket.create_connection((s.http.host, s.http.port))
        sock.setblocking(False)
        idle.append(sock)
    await asyncio.sleep(0.2)
    closed_at_once = sum(_closed(sock) for sock in idle)
    assert closed_at_once >= 20, "those over the cap are refused"
    await asyncio.sleep(1.0)
    assert all(_closed(sock) for sock in idle), "the rest are closed once idle too long"
    for sock in idle:
        sock.close()
    async with http.post(
        hook_url(bot),
        data=json.dumps(update(bot, "/start", 5)),
        headers={webhook.SECRET_HEADER: SECRET},
    ) as resp:
        assert resp.status == 200, "Telegram still gets through"


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def test_every_failed_update_can_be_listed_for_staff(tgbot: TelegramBot) -> None:
    """`messages failed` on a database with nothing failed says so."""
    code, out, err = await failed_messages(tgbot)
    assert code == 0 and out == ""
    assert "nothing failed" in err
    assert await tgbot.rows(m.c.status == "failed") == []
