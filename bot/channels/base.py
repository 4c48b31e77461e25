"""What the application needs from a platform channel."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from bot.core.delivery import Sender
from bot.core.types import Outbound

if TYPE_CHECKING:
    from bot.config import Settings

if TYPE_CHECKING:  # routes are aiohttp's; importing it is left to the channels that serve
    from aiohttp import web


class Channel(Protocol):
    name: str
    senders: list[Sender]  # one per address kind it serves (QQ: people and groups)
    concurrency: int  # sends in flight at once
    # Whether one process at a time sends for it (a platform that limits the rate per bot,
    # like Telegram), or every process may (WeChat: a reply leaves from where it was asked).
    lead: bool

    def routes(self) -> list[web.RouteDef]:
        """What it receives on the app's HTTP server (none for polling)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set (register a webhook, poll, keep a socket)."""

    async def close(self) -> None:
        """Release the platform session, after the delivery engine stopped."""


def staff_notices(settings: Settings, text: str) -> list[Outbound]:
    """`text` for staff: to the staff chat, or to every admin when there is none."""
    staff = settings.desk.staff_chat
    targets = [staff] if staff else sorted(settings.core.bot_admins)
    return [Outbound(text, chat=c) for c in targets]
