"""Runs the Telegram channel: checks the token, then long polling, or the webhook (its route
mounted on the app's HTTP server)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiogram import Bot
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

from bot.channels.telegram.convert import CHANNEL, address, to_inbound
from bot.channels.telegram.polling import ALLOWED_UPDATES, poll
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.session import BotApiSession
from bot.channels.telegram.webhook import webhook_routes
from bot.config import Settings
from bot.core.delivery import Delivery, Limits
from bot.core.i18n import Catalog
from bot.core.inbox import Inbox
from bot.core.sanitize import clean
from bot.core.types import Inbound

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


def limits(settings: Settings) -> Limits:
    tg = settings.telegram
    return Limits(
        rate=tg.rate_limit, chat_interval=tg.chat_interval, group_per_minute=tg.group_per_minute
    )


class TelegramRunner:
    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        delivery: Delivery,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.delivery = delivery
        self.catalog = catalog or Catalog()
        tg = settings.telegram
        assert tg.bot_token is not None, "TelegramRunner needs TELEGRAM_BOT_TOKEN"
        self.bot = Bot(token=tg.bot_token.get_secret_value(), session=BotApiSession(tg.api_base))
        self.sender = TelegramSender(self.bot, limits(settings))
        self.tasks: set[asyncio.Task[Any]] = set()
        self.name = CHANNEL
        self.concurrency = tg.max_in_flight
        self.lead = True  # Telegram's limits are per bot token: one sender at a time
        self.senders = [self.sender]

    def routes(self) -> list[web.RouteDef]:
        """The webhook's route, in webhook mode."""
        tg = self.settings.telegram
        if tg.mode != "webhook" or tg.webhook_secret is None:
            return []
        secret = tg.webhook_secret.get_secret_value()
        return webhook_routes(self.accept, path=tg.webhook_path, secret=secret)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _event(self, raw: Any) -> tuple[Inbound, str | None]:
        """The neutral event for one raw update (and the callback query id to answer). An
        update aiogram cannot read is still archived, as an event needing no answer."""
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        try:
            update = Update.model_validate(raw, context={"bot": self.bot})
        except Exception as exc:  # pydantic's ValidationError, or worse
            log.warning("update %s is not readable (%s); archived only", update_id, exc)
            key = f"{CHANNEL}:update:{update_id}" if isinstance(update_id, int) else None
            return Inbound(CHANNEL, address(0), address(0), kind="other", dedupe_key=key), None
        query = update.callback_query
        return to_inbound(update), query.id if query is not None else None

    async def accept_many(self, raws: list[Any]) -> int | None:
        """Record a batch of raw updates in one transaction, then queue them for handling.
        Returns the update id up to which every update is recorded (the offset may move past
        it); a redelivered update is dropped."""
        return (await self._accept(raws))[0]

    async def _accept(self, raws: list[Any]) -> tuple[int | None, Exception | None]:
        """`accept_many`'s answer, and the first error that kept an update from being
        recorded."""
        parsed = [(self._event(clean(raw)), raw) for raw in raws]
        results = await self.inbox.record_many(
            [
                (event, raw if isinstance(raw, dict) else {"update": raw})
                for (event, _), raw in parsed
            ]
        )
        recorded: int | None = None
        blocked: Exception | None = None
        for ((event, query_id), raw), result in zip(parsed, results, strict=True):
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if isinstance(result, Exception):
                blocked = blocked or result  # not recorded: not acknowledged, fetched again
                continue
            if blocked is None and isinstance(update_id, int):
                recorded = update_id
            if result is None:
                log.info("dropped redelivered update %s", update_id)
                continue
            if query_id is not None:
                self._spawn(self._answer_callback(query_id))
            self.inbox.submit(result, event)
        await self.inbox.room()
        return recorded, blocked

    async def accept(self, raw: dict[str, Any]) -> None:
        """One webhook update: raises unless it is recorded (or known already); with what
        kept it out, so an unreachable database is told apart from a bug."""
        recorded, error = await self._accept([raw])
        if recorded is None:
            raise error or RuntimeError(f"update {raw.get('update_id')} was not recorded")

    async def _answer_callback(self, query_id: str) -> None:
        """Stops the button's spinner, within the bot's rate limit; a late answer is useless,
        so one that would wait long is skipped (the spinner stops by itself)."""
        if not await self.delivery.extra_call(CHANNEL, max_wait=5.0):
            return
        with contextlib.suppress(AiogramError):
            await self.bot.answer_callback_query(query_id)

    async def _call(self, call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        """A start-up call (getMe, deleteWebhook, setWebhook): transient trouble is waited
        out with backoff until it works or we are stopped (None); a rejected token is fatal."""
        delay = 1.0
        while not stop.is_set():
            try:
                result = await call()
            except TelegramUnauthorizedError:
                self.delivery.health.down(CHANNEL, "the Bot API rejected TELEGRAM_BOT_TOKEN")
                raise TokenRejected(
                    f"TELEGRAM_BOT_TOKEN: rejected by {self.settings.telegram.api_base}"
                ) from None
            except TelegramRetryAfter as exc:
                problem, wait = str(exc), float(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
                problem, wait = str(exc), delay
                delay = min(delay * 2, 60.0)
                self.delivery.health.down(CHANNEL, f"Bot API: {problem}")
            else:
                self.delivery.health.up(CHANNEL)
                return result
            log.warning("Bot API not available (%s); retrying in %.0fs", problem, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        webhook = self.settings.telegram.mode == "webhook"
        try:
            me = await self._call(self.bot.get_me, stop)
            if me is None:
                return
            log.info("telegram: serving @%s in %s mode", me.username, self.settings.telegram.mode)
            await self._set_commands()
            if webhook:
                await self._register_webhook(stop)
            elif await self._call(
                lambda: self.bot.delete_webhook(drop_pending_updates=False), stop
            ):
                await poll(self.bot, self.accept_many, stop, health=self.delivery.health)
        finally:
            await self._drain()

    async def close(self) -> None:
        """Close the Bot API session: after the delivery engine stopped, which sends on it."""
        await self.bot.session.close()

    async def _register_webhook(self, stop: asyncio.Event) -> None:
        tg, http = self.settings.telegram, self.settings.http
        secret = tg.webhook_secret.get_secret_value()  # type: ignore[union-attr]
        registered = await self._call(
            lambda: self.bot.set_webhook(
                url=tg.webhook_url or "", secret_token=secret, allowed_updates=ALLOWED_UPDATES
            ),
            stop,
        )
        if registered:
            log.info("telegram webhook on %s:%s%s", http.host, http.port, tg.webhook_path)
            await stop.wait()

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
