"""Webhook mode end to end: Telegram's POSTs to our aiohttp server, replies through the fake."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import ConfigError, load_settings
from storage.schema import messages as m
from tests.conftest import SettingsFactory
from tests.e2e.telegram.conftest import USER, TelegramBot, update_key
from tests.fakes.telegram_api import DEFAULT_TOKEN, JSON, FakeTelegram
from tests.support import ROOT, free_port

SECRET = "s3cret-Token_1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_env(**extra: str) -> dict[str, str]:
    return {
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": "https://example.com/hook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        **extra,
    }


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def hook_url(bot: TelegramBot, path: str | None = None) -> str:
    s = bot.settings
    return f"http://{s.http.host}:{s.http.port}{path or s.telegram.webhook_path}"


async def post(
    http: aiohttp.ClientSession,
    bot: TelegramBot,
    body: JSON | str | bytes,
    *,
    secret: str | None = SECRET,
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[HEADER] = secret
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    async with http.post(hook_url(bot), data=data, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def update(bot: TelegramBot, text: str, update_id: int, user: int = USER) -> JSON:
    return {"update_id": update_id, **bot.tg.user_message(user, text)}


async def test_runner_registers_the_webhook_url_and_secret(webhook_bot: TelegramBot) -> None:
    tg = webhook_bot.tg
    assert tg.webhook_url == "https://example.com/hook"
    assert tg.webhook_secret_token == SECRET
    [params] = [p for name, p in tg.requests if name == "setWebhook"]
    assert "callback_query" in params["allowed_updates"]
    assert "message" in params["allowed_updates"]
    assert tg.get_updates_offsets == [], "webhook mode never polls"


async def test_an_update_with_the_secret_is_recorded_and_answered(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    status, body = await post(http, webhook_bot, update(webhook_bot, "/start", 1001))
    assert (status, body) == (200, {"ok": True})
    row = await webhook_bot.settled(1001)
    assert row.kind == "command" and row.status == "handled"
    [reply] = webhook_bot.tg.sent(USER)
    assert "国瑞投资" in reply["text"]
    assert row.payload["raw"]["update_id"] == 1001, "the platform's own form is archived too"


async def test_a_button_press_through_the_webhook_is_answered(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    tg = webhook_bot.tg
    await post(http, webhook_bot, update(webhook_bot, "/topics", 1))
    await webhook_bot.settled(1)
    [out] = [r for r in await webhook_bot.archive() if r.direction == "out"]
    press = {"update_id": 2, **tg.callback(USER, "sub:t:news", message_id=int(out.platform_id))}
    assert (await post(http, webhook_bot, press))[0] == 200
    await webhook_bot.settled(2)
    assert [n for n, _ in tg.requests].count("editMessageText") == 1
    assert len(tg.callback_answers) == 1
    assert await webhook_bot.subs() == ["news"]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.lower()])
async def test_a_wrong_or_missing_secret_is_refused_and_not_recorded(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession, secret: str | None
) -> None:
    status, body = await post(http, webhook_bot, update(webhook_bot, "/start", 7), secret=secret)
    assert status == 401 and body["ok"] is False
    assert await webhook_bot.rows() == []
    assert webhook_bot.tg.sent() == []


@pytest.mark.parametrize(
    "body",
    ["{not json", "", "[]", '"update"', "null", '{"message": {"text": "hi"}}', b"\xff\xfe"],
)
async def test_a_body_that_is_not_an_update_gets_400(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession, body: str | bytes
) -> None:
    status, reply = await post(http, webhook_bot, body)
    assert status == 400 and reply["ok"] is False
    assert await webhook_bot.rows() == []


async def test_the_same_update_posted_twice_is_handled_once(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    body = update(webhook_bot, "/subscribe morning", 42)
    assert (await post(http, webhook_bot, body))[0] == 200
    await webhook_bot.settled(42)
    assert (await post(http, webhook_bot, body))[0] == 200, "a redelivery is acknowledged"
    await webhook_bot.settled(42)
    assert len(webhook_bot.tg.sent(USER)) == 1
    assert len(await webhook_bot.rows(m.c.dedupe_key == update_key(42))) == 1


async def test_concurrent_redeliveries_are_handled_once(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    body = update(webhook_bot, "/subscribe morning", 77)
    results = await asyncio.gather(*(post(http, webhook_bot, body) for _ in range(5)))
    assert [status for status, _ in results] == [200] * 5
    await webhook_bot.settled(77)
    assert len(webhook_bot.tg.sent(USER)) == 1
    assert "订阅成功" in webhook_bot.tg.texts(USER)[0]
    assert len(await webhook_bot.rows(m.c.dedupe_key == update_key(77))) == 1
    assert len(await webhook_bot.rows(m.c.direction == "out")) == 1


async def test_concurrent_updates_from_many_users_are_all_answered(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    users = range(5001, 5011)
    bodies = [
        update(webhook_bot, "/subscribe morning", 300 + i, user=u) for i, u in enumerate(users)
    ]
    results = await asyncio.gather(*(post(http, webhook_bot, b) for b in bodies))
    assert {status for status, _ in results} == {200}
    for body in bodies:
        await webhook_bot.settled(body["update_id"])
    for user in users:
        assert len(webhook_bot.tg.sent(user)) == 1
        assert await webhook_bot.subs(user) == ["morning"]


async def test_healthz_and_unknown_paths(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    async with http.get(hook_url(webhook_bot, "/healthz")) as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": True}
    async with http.get(hook_url(webhook_bot)) as resp:
        assert resp.status == 405, "updates are POSTed"
    async with http.post(hook_url(webhook_bot, "/other"), json={}) as resp:
        assert resp.status == 404


async def test_the_webhook_server_stops_with_the_runner(
    webhook_bot: TelegramBot, http: aiohttp.ClientSession
) -> None:
    await webhook_bot.shutdown()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(hook_url(webhook_bot, "/healthz")):
            pass


async def test_a_server_error_while_registering_the_webhook_is_retried(
    make_bot: Callable[..., Awaitable[TelegramBot]], http: aiohttp.ClientSession
) -> None:
    bot = await make_bot(start=False, **webhook_env())
    bot.tg.fail_next("setWebhook", status=502, description="Bad Gateway")
    await bot.start()
    assert bot.tg.webhook_url == "https://example.com/hook"
    assert (await post(http, bot, update(bot, "/start", 5)))[0] == 200
    await bot.settled(5)


async def test_a_custom_webhook_path_is_served(
    make_bot: Callable[..., Awaitable[TelegramBot]], http: aiohttp.ClientSession
) -> None:
    bot = await make_bot(**webhook_env(TELEGRAM_WEBHOOK_PATH="hooks/tg-7"))
    assert bot.settings.telegram.webhook_path == "/hooks/tg-7"
    assert (await post(http, bot, update(bot, "/start", 9)))[0] == 200
    await bot.settled(9)
    assert len(bot.tg.sent(USER)) == 1


@pytest.mark.parametrize(
    ("missing", "env"),
    [
        ("TELEGRAM_WEBHOOK_SECRET", {"TELEGRAM_WEBHOOK_URL": "https://example.com/hook"}),
        ("TELEGRAM_WEBHOOK_URL", {"TELEGRAM_WEBHOOK_SECRET": SECRET}),
    ],
)
def test_webhook_mode_requires_url_and_secret(
    make_settings: SettingsFactory, missing: str, env: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(TELEGRAM_BOT_TOKEN="123456:TEST-token", TELEGRAM_MODE="webhook", **env)
    assert caught.value.variable == missing
    assert missing in str(caught.value) and "\n" not in str(caught.value)


def test_a_webhook_secret_is_never_echoed_in_config_errors() -> None:
    environ = {
        "TELEGRAM_BOT_TOKEN": "123456:TEST-token",
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": "https://example.com/hook",
        "TELEGRAM_WEBHOOK_SECRET": "has spaces and !secret!",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, environ=environ)
    assert caught.value.variable == "TELEGRAM_WEBHOOK_SECRET"
    assert "!secret!" not in str(caught.value)


async def test_a_port_in_use_is_one_line_naming_it_and_exit_2(
    tg: FakeTelegram, tmp_path: Path, db_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
        environ.update(
            PYTHONPATH=str(ROOT),
            DATABASE_URL=db_url,
            TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
            TELEGRAM_API_BASE=tg.base_url,
            **{k: v for k, v in webhook_env(HTTP_PORT=str(port)).items()},
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--no-console",
            cwd=tmp_path, env=environ,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2, err
    [line] = err.decode().strip().splitlines()  # found before anything else starts
    assert line.startswith("configuration error: HTTP_PORT: ") and str(port) in line
