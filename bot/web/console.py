"""The staff console: web pages for staff and advisors on the app's one HTTP server, under
STAFF_CONSOLE_PATH. It is a channel like the others: what someone does on a page that
changes anything is an event of theirs (`staff:NAME` is the chat, their account's address
the sender), handled by the same handlers with the same role checks as in any chat, and the
answers are outbox rows to that chat, shown on the page. Pages that only show things read
the database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.delivery import Limits, OutMessage
from bot.core.types import KNOWN_CAPABILITIES, Capabilities

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import App
    from bot.config import Settings

CHANNEL = "staff"
HERE = Path(__file__).parent


class StaffSender:
    """The page reads the answers from the archive: delivering one is recording it sent."""

    channel = CHANNEL
    capabilities: Capabilities = KNOWN_CAPABILITIES[CHANNEL]
    limits = Limits()

    def is_group(self, chat: str) -> bool:
        return False

    async def send(self, message: OutMessage) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    path: str
    idle_minutes: int
    max_hours: int
    secure_cookie: str
    admins: frozenset[str]
    timezone: str
    redis_url: str | None = None


class StaffConsole:
    name = CHANNEL
    concurrency = 8
    lead = False  # any process records its rows

    def __init__(self, settings: Settings, app: App) -> None:
        sc = settings.staff_console
        self.app = app
        self.config = ConsoleSettings(
            sc.path, sc.staff_console_idle_minutes, sc.staff_console_max_hours,
            sc.staff_console_secure_cookie, frozenset(settings.core.bot_admins),
            settings.core.timezone, sc.staff_console_redis_url,
        )  # fmt: skip
        self.senders = [StaffSender()]

    def routes(self) -> list[web.RouteDef]:
        return []

    def apps(self) -> list[tuple[str, web.Application]]:
        from bot.web.site import build

        return [(self.config.path, build(self.app, self.config))]

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

    async def close(self) -> None:
        return None
