"""End-to-end fixtures for the Telegram channel.

Everything is real except Telegram itself: the aiogram Bot talks HTTP to `FakeTelegram`,
the App runs on a fresh SQLite file, and `runner.run(stop)` serves polling or the webhook
as it does in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.app import App
from bot.channels.telegram.runner import TelegramRunner
from bot.config import Settings
from storage.records import StoredMessage
from storage.schema import messages as m
from tests.conftest import SettingsFactory
from tests.fakes.clock import FakeTime
from tests.fakes.telegram_api import DEFAULT_TOKEN, JSON, FakeTelegram
from tests.support import eventually, free_port

USER = 4242
FINAL_OUT = {"sent", "failed", "blocked", "ambiguous"}


def update_key(update_id: int) -> str:
    return f"telegram:update:{update_id}"


@dataclass
class TelegramBot:
    """One bot process: App + TelegramRunner on a settings' database, against the fake."""

    tg: FakeTelegram
    settings: Settings
    app: App = field(init=False)
    runner: TelegramRunner = field(init=False)
    stop_event: asyncio.Event = field(init=False)
    task: asyncio.Task[None] | None = field(default=None, init=False)
    app_running: bool = field(default=False, init=False)

    # ---- lifecycle --------------------------------------------------------------------------

    def build(self) -> None:
        """Compose a fresh App and runner (not started), as bot.cli does."""
        self.app = App(self.settings)
        self.runner = TelegramRunner(
            self.settings, self.app.inbox, self.app.delivery, self.app.catalog
        )
        self.app.add_sender(self.runner.sender)
        self.app.http.mount(self.runner.routes())
        self.stop_event = asyncio.Event()

    async def start(self) -> None:
        self.build()
        await self.app.start()
        self.app_running = True
        calls, polls = len(self.tg.requests), len(self.tg.get_updates_offsets)
        self.task = asyncio.create_task(self.runner.run(self.stop_event), name="telegram-runner")

        def ready() -> bool:
            assert self.task is not None
            if self.task.done():
                task, self.task = self.task, None
                task.result()  # raise whatever killed the runner
                raise AssertionError("the runner ended without serving")
            if self.settings.telegram.mode == "webhook":
                registered = any(n == "setWebhook" for n, _ in self.tg.requests[calls:])
                return registered and self.tg.webhook_url is not None
            return len(self.tg.get_updates_offsets) > polls  # the first long poll is waiting

        await eventually(ready, what="the runner to be serving")

    async def shutdown(self) -> None:
        """Set stop and wait for the runner (it drains what is being handled), then close the app.

        A runner that ignores `stop` is cancelled after a while, as bot.cli would.
        """
        task, self.task = self.task, None
        if task is not None:
            self.stop_event.set()
            await asyncio.wait({task}, timeout=12)  # the runner drains handlers for up to 10 s
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.app_running:
            self.app_running = False
            await self.app.stop()
            await self.runner.close()

    async def restart(self) -> None:
        """Stop this process and start a new one on the same database and fake Telegram."""
        await self.shutdown()
        await self.start()

    # ---- driving ----------------------------------------------------------------------------

    async def push(self, update: JSON) -> int:
        """Queue an update (polling) and wait until it is handled and its replies are final."""
        update_id = self.tg.push_update(update)
        await self.settled(update_id)
        return update_id

    async def say(self, text: str, user: int = USER, **fields: Any) -> list[JSON]:
        """A user's text message; returns the sendMessage params of the replies."""
        before = len(self.tg.sent(user))
        await self.push(self.tg.user_message(user, text, **fields))
        return self.tg.sent(user)[before:]

    async def text(self, text: str, user: int = USER, **fields: Any) -> str:
        return "\n".join(str(p.get("text", "")) for p in await self.say(text, user, **fields))

    async def settled(self, update_id: int, timeout: float = 10.0) -> StoredMessage:
        """Wait until the update is archived and handled, and every reply row is final."""

        async def done() -> StoredMessage | None:
            row = await self.inbound(update_id)
            if row is None or row.status == "received":
                return None
            replies = await self.rows(m.c.reply_to == row.id)
            if any(r.status not in FINAL_OUT for r in replies) or self.runner.tasks:
                return None
            return row

        return await eventually(done, timeout=timeout, what=f"update {update_id} to settle")

    # ---- the archive ------------------------------------------------------------------------

    async def rows(self, *where: Any) -> list[StoredMessage]:
        async with self.app.db.read() as tx:
            rows = (await tx.conn.execute(sa.select(m.c.id).where(*where).order_by(m.c.id))).all()
            return [await tx.messages.get(r.id) for r in rows]  # type: ignore[misc]

    async def inbound(self, update_id: int) -> StoredMessage | None:
        found = await self.rows(m.c.dedupe_key == update_key(update_id))
        return found[0] if found else None

    async def archive(self, user: int = USER) -> list[StoredMessage]:
        async with self.app.db.read() as tx:
            return await tx.messages.for_chat(f"telegram:{user}", limit=10_000)

    async def subs(self, user: int = USER) -> list[str]:
        async with self.app.db.read() as tx:
            client = await tx.clients.by_address(f"telegram:{user}")
            return await tx.subscriptions.of(client.id) if client else []


@pytest.fixture
def fake_time() -> FakeTime:
    """Virtual time: see tests/fakes/clock.py."""
    return FakeTime()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def tg_settings(make_settings: SettingsFactory, tg: FakeTelegram) -> Callable[..., Settings]:
    """Settings for the Telegram channel against the fake; keyword args override env vars."""

    def make(**env: str) -> Settings:
        base = {
            "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_BASE": tg.base_url,
            "TELEGRAM_MODE": "polling",
            # Conversations here send several replies to one chat; Telegram's 1 s spacing
            # (tested on its own in test_limits_at_the_fake) would only make them slow.
            "TELEGRAM_CHAT_INTERVAL": "0.05",
        }
        return make_settings(**{**base, **env})

    return make


@pytest.fixture
async def make_bot(
    tg: FakeTelegram, tg_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Awaitable[TelegramBot]]]:
    """Start bots on demand (settings from env overrides); every one is shut down at the end."""
    started: list[TelegramBot] = []

    async def make(*, start: bool = True, **env: str) -> TelegramBot:
        bot = TelegramBot(tg, tg_settings(**env))
        started.append(bot)
        if start:
            await bot.start()
        return bot

    yield make
    for bot in reversed(started):
        await bot.shutdown()


@pytest.fixture
async def tgbot(make_bot: Callable[..., Awaitable[TelegramBot]]) -> TelegramBot:
    """A running bot in polling mode."""
    return await make_bot()


@pytest.fixture
async def webhook_bot(make_bot: Callable[..., Awaitable[TelegramBot]]) -> TelegramBot:
    """A running bot in webhook mode on a free local port."""
    return await make_bot(
        TELEGRAM_MODE="webhook",
        TELEGRAM_WEBHOOK_URL="https://example.com/hook",
        TELEGRAM_WEBHOOK_SECRET="s3cret-Token_1",
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(free_port()),
    )


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
