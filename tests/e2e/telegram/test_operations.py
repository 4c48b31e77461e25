"""/metrics and JSON logs with a real bot: updates through the fake Bot API, then a scrape.

/metrics is off unless METRICS=on, needs the bearer token when METRICS_TOKEN is set, and
after a few updates carries the families operators watch. JSON log lines name the channel
and chat, and carry neither the text a person wrote nor a phone number.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest

from bot.ops.logs import JsonFormatter
from tests.e2e.telegram.conftest import USER, TelegramBot
from tests.support import free_port

TOKEN = "scrape-token-0123456789"
PHONE = "13912345678"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def url(bot: TelegramBot, path: str) -> str:
    return f"http://127.0.0.1:{bot.settings.http.port}{path}"


def served(**env: str) -> dict[str, str]:
    return {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(free_port()), **env}


async def scrape(
    http: aiohttp.ClientSession, bot: TelegramBot, token: str | None = None
) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url(bot, "/metrics"), headers=headers) as resp:
        return resp.status, await resp.text()


async def test_metrics_are_off_unless_asked_for(
    make_bot: Callable[..., Awaitable[TelegramBot]], http: aiohttp.ClientSession
) -> None:
    bot = await make_bot(
        **served(
            TELEGRAM_MODE="webhook",
            TELEGRAM_WEBHOOK_URL="https://example.com/hook",
            TELEGRAM_WEBHOOK_SECRET="s3cr3t-token",
        )
    )
    assert bot.app.metrics is None
    assert (await scrape(http, bot))[0] == 404
    async with http.get(url(bot, "/readyz")) as resp:
        assert resp.status == 200, await resp.text()


async def test_metrics_need_the_token_when_one_is_set(
    make_bot: Callable[..., Awaitable[TelegramBot]], http: aiohttp.ClientSession
) -> None:
    bot = await make_bot(**served(METRICS="on", METRICS_TOKEN=TOKEN))
    assert (await scrape(http, bot))[0] == 401
    assert (await scrape(http, bot, "not-the-token-at-all"))[0] == 401
    status, text = await scrape(http, bot, TOKEN)
    assert status == 200 and "bot_updates_total" in text


async def test_families_after_a_few_updates(
    make_bot: Callable[..., Awaitable[TelegramBot]], http: aiohttp.ClientSession
) -> None:
    # METRICS=on alone starts the HTTP server: a polling bot serves nothing else over it.
    bot = await make_bot(**served(METRICS="on"))
    await bot.say("/start")
    await bot.say("/topics")
    await bot.say("怎么开户")  # the FAQ answers, suggests or hands off
    status, text = await scrape(http, bot)
    assert status == 200
    lines = text.splitlines()
    assert 'bot_updates_total{channel="telegram"} 3.0' in lines
    assert 'bot_handling_seconds_count{channel="telegram"} 3.0' in lines
    assert any(
        line.startswith('bot_sends_total{channel="telegram",outcome="sent"}') for line in lines
    )
    faq = [line for line in lines if line.startswith("bot_faq_replies_total")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in faq) == 1.0, faq
    assert 'bot_channel_up{channel="telegram"} 1.0' in lines
    assert 'bot_lease_held_here{channel="telegram"} 1.0' in lines
    owner = bot.app.delivery.owner
    assert f'bot_lease_holder{{lease="delivery:telegram",owner="{owner}"}} 1.0' in lines
    for family in (
        "bot_flood_holds_total",
        "bot_outbox_messages",
        "bot_outbox_oldest_seconds",
        "bot_tickets_open",
        "bot_tickets_breached",
        "bot_wechat_windows_open",
        "bot_wechat_mass_sends_left_today",
        "bot_sms_parts_total",
        "bot_sms_stopped",
    ):
        assert f"# TYPE {family} " in text, family


async def test_a_failing_database_family_is_left_out_and_the_rest_answers(
    make_bot: Callable[..., Awaitable[TelegramBot]],
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await make_bot(**served(METRICS="on"))

    async def broken(conn: object, now: object) -> list[object]:
        raise RuntimeError("no such table")

    bot.app.metrics.database.families["tickets"] = broken
    status, text = await scrape(http, bot)
    assert status == 200
    assert "bot_tickets_open" not in text
    assert "bot_outbox_messages" in text and "bot_updates_total" in text
    assert "metrics: tickets left out of this scrape (RuntimeError)" in caplog.text


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the `bot` loggers write, as LOG_FORMAT=json would (LOG_PERSONAL off)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(personal=False))
    logger = logging.getLogger("bot")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_json_log_lines_name_the_chat_but_not_what_was_written(
    make_bot: Callable[..., Awaitable[TelegramBot]], json_lines: io.StringIO
) -> None:
    bot = await make_bot()
    words = f"请尽快回电 {PHONE} 关于账户冻结"
    bot.tg.fail_next(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    await bot.say(words)
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert lines, "something was logged"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
    [blocked] = [line for line in lines if "blocked" in line["message"]]
    assert blocked["level"] == "WARNING"
    assert (blocked["channel"], blocked["chat"]) == ("telegram", f"telegram:{USER}")
    raw = json_lines.getvalue()
    assert PHONE not in raw and "账户冻结" not in raw
