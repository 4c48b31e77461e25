"""The staff console with its sessions in Redis (STAFF_CONSOLE_REDIS_URL): signing in,
rotation at each step, signing out, and a new password or a disabled account ending every
session, as with the database. Skipped when no Redis answers (TEST_REDIS_URL, default the
local one)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from yarl import URL

from bot.web import accounts
from tests.conftest import SettingsFactory
from tests.e2e.staff_console.conftest import PASSWORD, Browser, ConsoleBot
from tests.fakes.clock import FakeTime
from tests.support import ROOT, free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        await client.aclose()
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({exc}); set TEST_REDIS_URL")
    yield REDIS_URL
    await client.aclose()


@pytest.fixture
async def console(make_settings: SettingsFactory, redis_url: str) -> AsyncIterator[ConsoleBot]:
    settings = make_settings(
        STAFF_CONSOLE="on", HTTP_HOST="127.0.0.1", HTTP_PORT=str(free_port()),
        STAFF_CONSOLE_REDIS_URL=redis_url,
    )  # fmt: skip
    bot = ConsoleBot(settings, clock=FakeTime(ticking=True))
    await bot.start()
    yield bot
    await bot.stop()


async def test_sessions_live_in_redis_and_end_with_the_account(
    console: ConsoleBot,
    browser: Callable[[], Awaitable[Browser]],
    redis_url: str,
    make_settings: SettingsFactory,
) -> None:
    name = f"r{uuid.uuid4().hex[:8]}"  # Redis outlives the test's database
    await console.add_account(name, "staff")
    b = await browser()
    await b.sign_in(name)
    token = b.http.cookie_jar.filter_cookies(URL(console.base + "/desk"))["staff_session"].value
    key = f"staff-console:session:{accounts.code_hash(token)}"
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert (await redis.hget(key, "stage")) == "in"
        async with console.app.db.read() as tx:
            assert await tx.staff.session(accounts.code_hash(token)) is None  # not in the DB
        assert (await b.get("/desk"))[0] == 200

        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        environ.update(
            DATABASE_URL=console.settings.core.database_url, STAFF_CONSOLE_REDIS_URL=redis_url
        )
        changed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "staff", "passwd", name, "--password-stdin"],
            input=PASSWORD + "?\n", env=environ, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert changed.returncode == 0, changed.stderr
        assert not await redis.exists(key)
        async with b.http.get(console.base + "/desk", allow_redirects=False) as r:
            assert r.status == 303
    finally:
        await redis.aclose()
