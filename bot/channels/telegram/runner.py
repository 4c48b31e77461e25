"""Runs the Telegram channel: checks the token, then long polling or the webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, Update, User
from aiohttp import web

from bot.channels.telegram.convert import to_inbound
from bot.channels.telegram.polling import ALLOWED_UPDATES, poll
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.webhook import webhook_app
from bot.config import Settings
from bot.core.i18n import Catalog
from bot.core.inbox import Inbox

log = logging.getLogger(__name__)

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
        with contextlib.suppress(TelegramAPIError):
            await self.bot.answer_callback_query(query_id)

    async def _whoami(self, stop: asyncio.Event) -> User | None:
        """Check the token; wait out network trouble, but a rejected token is fatal."""
        delay = 1.0
        while not stop.is_set():
            try:
                return await self.bot.get_me()
            except TelegramUnauthorizedError:
                raise TokenRejected(
                    f"TELEGRAM_BOT_TOKEN: rejected by {self.settings.telegram.api_base}"
                ) from None
            except (TelegramNetworkError, TelegramServerError) as exc:
                log.warning("cannot reach the Bot API (%s); retrying in %.0fs", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, 60.0)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            me = await self._whoami(stop)
        except TokenRejected:
            await self.bot.session.close()
            raise
        if me is None:
            await self.bot.session.close()
            return
        log.info("telegram: serving @%s in %s mode", me.username, self.settings.telegram.mode)
        await self._set_commands()
        try:
            if self.settings.telegram.mode == "webhook":
                await self._serve_webhook(stop)
            else:
                await self.bot.delete_webhook(drop_pending_updates=False)
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
            await self.bot.set_webhook(
                url=tg.webhook_url or "", secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("telegram webhook listening on %s:%s%s", http.host, http.port, tg.webhook_path)
            await stop.wait()
        finally:
            await runner.cleanup()

    async def _set_commands(self) -> None:
        for lang in ("zh", "en"):
            commands = [
                BotCommand(command=c, description=self.catalog.raw(lang, f"commands.{c}"))
                for c in MENU_COMMANDS
            ]
            with contextlib.suppress(TelegramAPIError):
                await self.bot.set_my_commands(
                    commands, language_code=None if lang == "zh" else lang
                )

    async def _drain(self, timeout: float = 10.0) -> None:
        """Let events already being handled finish; unfinished ones are redone at next start."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
