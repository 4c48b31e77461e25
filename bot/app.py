"""Composition root: builds storage, dispatcher, delivery and channels, and runs them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.config import Settings
from bot.core.delivery import Delivery, Sender
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import Catalog, Translator
from bot.core.inbox import Inbox
from bot.core.middlewares import DEFAULT_MIDDLEWARES, Policy
from bot.core.timer import Timer
from bot.startup import StartupError, database_problem, sqlite_path
from handlers import build_router
from handlers.faq.service import FaqService
from storage.database import Clock, Database, utc_now
from storage.migrate import upgrade

log = logging.getLogger(__name__)


class App:
    """Everything one bot process needs; channels register their senders before `start`."""

    def __init__(
        self, settings: Settings, *, clock: Clock = utc_now, timer: Timer | None = None
    ) -> None:
        self.settings = settings
        self._db_path = sqlite_path(settings.core.database_url)
        try:
            self.db = Database(settings.core.database_url, clock=clock)
        except OSError as exc:
            problem = database_problem(exc, self._db_path) or str(exc)
            raise StartupError("DATABASE_URL", problem) from None
        self.catalog = Catalog()
        self.translator = Translator(
            self.catalog, settings.core.default_language, settings.core.firm_name
        )
        self.policy = Policy(
            admins=settings.core.bot_admins,
            default_language=settings.core.default_language,
            timezone=settings.core.timezone,
        )
        self.delivery = Delivery(self.db, timer=timer)
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
        self.started = False

    def add_sender(
        self, sender: Sender, *, chats: Sequence[str] | None = None, concurrency: int = 64
    ) -> None:
        """Deliver `sender.channel`'s rows from this process (only `chats`, when given)."""
        self.delivery.register(sender, chats=chats, concurrency=concurrency)

    async def start(self) -> None:
        """Migrate, then serve at once: what a previous process left (unhandled events,
        unsent replies) is taken over in the background."""
        try:
            await upgrade(self.db)
            async with self.db.write() as tx:
                await self.faq.ensure_defaults(tx)
        except Exception as exc:
            problem = database_problem(exc, self._db_path)
            if problem is None:
                raise
            raise StartupError("DATABASE_URL", problem) from None
        await self.delivery.start()
        self.inbox.start()
        self.started = True

    async def stop(self, grace: float = 10.0) -> None:
        """Finish what is under way (up to `grace`), hand back the rest, close the database."""
        try:
            if self.started:
                self.started = False
                await self.inbox.stop(grace)
                await self.delivery.stop(grace)
        finally:
            await self.db.close()
