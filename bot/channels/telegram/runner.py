"""Runs the Telegram channel: checks the token, then long polling or the webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, Update
from aiohttp import web

from bot.channels.telegram.convert import to_inbound
from bot.channels.telegram.polling import ALLOWED_UPDATES, poll
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.webhook import webhook_app
from bot.config import Settings
from bot.core.i18n import Catalog
from bot.core.inbox import Inbox

log = logging.getLogger(__name__)
T = TypeVar("T")

MENU_COMMANDS = (
    "start",
    "topics",
    "mysubs",
    "subscribe",
    "unsubscribe",
    "lang",
    "profile",
    "deleteme",
    "help",
)


class TokenRejected(Exception):
    """The Bot API refused our token: a settings problem no retry will fix."""


class TelegramRunner:
    def __init__(self, settings: Settings, inbox: Inbox, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.inbox = inbox
        self.catalog = catalog or Catalog()
        tg = settings.telegram
        assert tg.bot_token is not None, "TelegramRunner needs TELEGRAM_BOT_TOKEN"
        session = AiohttpSession(api=TelegramAPIServer.from_base(tg.api_base))
        self.bot = Bot(token=tg.bot_token.get_secret_value(), session=session)
        self.sender = TelegramSender(self.bot, tg.rate_limit)
        self.tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def accept(self, update: Update) -> None:
        """Record the update (this is what acknowledging waits for), then handle it in the
        background; a redelivered update is dropped here."""
        event = to_inbound(update)
        raw = update.model_dump(mode="json", exclude_none=True, exclude_unset=True)
        message_id = await self.inbox.record(event, raw=raw)
        if message_id is None:
            log.info("dropped redelivered update %s", update.update_id)
            return
        if update.callback_query is not None:
            self._spawn(self._answer_callback(update.callback_query.id))
        self._spawn(self.inbox.handle(message_id, event))

    async def _answer_callback(self, query_id: str) -> None:
        # Stops the button's spinner; a late or failed answer is harmless.
        with contextlib.suppress(AiogramError):
            await self.bot.answer_callback_query(query_id)

    async def _call(self, call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        """A start-up call (getMe, deleteWebhook, setWebhook): transient trouble is waited
        out with backoff until it works or we are stopped (None); a rejected token is fatal."""
        delay = 1.0
        while not stop.is_set():
            try:
                return await call()
            except TelegramUnauthorizedError:
                raise TokenRejected(
                    f"TELEGRAM_BOT_TOKEN: rejected by {self.settings.telegram.api_base}"
                ) from None
            except TelegramRetryAfter as exc:
                problem, wait = str(exc), float(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
                problem, wait = str(exc), delay
                delay = min(delay * 2, 60.0)
            log.warning("Bot API not available (%s); retrying in %.0fs", problem, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            me = await self._call(self.bot.get_me, stop)
            if me is None:
                return
            log.info("telegram: serving @%s in %s mode", me.username, self.settings.telegram.mode)
            await self._set_commands()
            if self.settings.telegram.mode == "webhook":
                await self._serve_webhook(stop)
            elif await self._call(
                lambda: self.bot.delete_webhook(drop_pending_updates=False), stop
            ):
                await poll(self.bot, self.accept, stop)
        finally:
            await self._drain()
            await self.bot.session.close()

    async def _serve_webhook(self, stop: asyncio.Event) -> None:
        tg, http = self.settings.telegram, self.settings.http
        secret = tg.webhook_secret.get_secret_value()  # type: ignore[union-attr]
        runner = web.AppRunner(
            webhook_app(self.bot, self.accept, path=tg.webhook_path, secret=secret)
        )
        await runner.setup()
        await web.TCPSite(runner, http.host, http.port).start()
        try:
            registered = await self._call(
                lambda: self.bot.set_webhook(
                    url=tg.webhook_url or "", secret_token=secret, allowed_updates=ALLOWED_UPDATES
                ),
                stop,
            )
            if registered:
                log.info("telegram webhook on %s:%s%s", http.host, http.port, tg.webhook_path)
                await stop.wait()
        finally:
            await runner.cleanup()

    async def _set_commands(self) -> None:
        for lang in ("zh", "en"):
            commands = [
                BotCommand(command=c, description=self.catalog.raw(lang, f"commands.{c}"))
                for c in MENU_COMMANDS
            ]
            with contextlib.suppress(AiogramError):
                await self.bot.set_my_commands(
                    commands, language_code=None if lang == "zh" else lang
                )

    async def _drain(self, timeout: float = 10.0) -> None:
        """Let events already being handled finish; unfinished ones are redone at next start."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
