"""Composition root: builds storage, dispatcher, delivery and channels, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.config import Settings
from bot.core.delivery import Delivery, Sender
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import Catalog, Translator
from bot.core.inbox import Inbox
from bot.core.middlewares import DEFAULT_MIDDLEWARES, Policy
from handlers import build_router
from handlers.faq.service import FaqService
from storage.database import Clock, Database, utc_now
from storage.migrate import upgrade

log = logging.getLogger(__name__)

SWEEP_SECONDS = 15.0


class App:
    """Everything one bot process needs; channels register their senders before `start`."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.db = Database(settings.core.database_url, clock=clock)
        self.catalog = Catalog()
        self.translator = Translator(
            self.catalog, settings.core.default_language, settings.core.firm_name
        )
        self.policy = Policy(
            admins=settings.core.bot_admins,
            default_language=settings.core.default_language,
            timezone=settings.core.timezone,
        )
        self.delivery = Delivery(self.db)
        self.dispatcher = Dispatcher(build_router(), DEFAULT_MIDDLEWARES)
        self.faq = FaqService()
        self.inbox = Inbox(
            self.db,
            self.dispatcher,
            self.delivery,
            policy=self.policy,
            translator=self.translator,
            services={"faq": self.faq},
        )
        self._sweeper: asyncio.Task[None] | None = None

    def add_sender(self, sender: Sender) -> None:
        self.delivery.register(sender)

    async def start(self, *, sweep: bool = True) -> None:
        """Migrate, then finish what a previous process left: unhandled events, unsent replies."""
        await upgrade(self.db)
        async with self.db.write() as tx:
            await self.faq.ensure_defaults(tx)
        await self.delivery.recover()
        await self.inbox.recover()
        await self.delivery.sweep()
        if sweep:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="delivery-sweep")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.delivery.sweep()
            except Exception:
                log.exception("delivery sweep failed")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.db.close()
