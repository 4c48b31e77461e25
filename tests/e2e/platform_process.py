"""One bot process serving its configured platforms, as `python -m bot run` builds it: the
channels from the registry on one App, each channel's `run` as a task."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bot import channel_registry
from bot.app import App
from bot.channels.base import Channel
from bot.config import Settings
from bot.core.delivery import Sender
from tests.support import eventually

OPEN_OUT = ("pending", "queued", "sending")


@dataclass
class PlatformProcess:
    settings: Settings
    app: App = field(init=False)
    channels: list[Channel] = field(init=False, default_factory=list)
    stop_event: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    # Senders besides the configured platforms' (a recording console for staff, say).
    senders: list[Sender] = field(kw_only=True, default_factory=list)
    clock: Any = field(kw_only=True, default=None)  # a fake wall clock (FakeTime), if any

    async def start(self) -> None:
        self.app = App(self.settings, clock=self.clock) if self.clock else App(self.settings)
        self.channels = channel_registry.configured(self.settings, self.app)
        channel_registry.attach(self.app, self.channels)
        for sender in self.senders:
            self.app.add_sender(sender)
        await self.app.start()
        self.stop_event = asyncio.Event()
        self.tasks = [asyncio.create_task(c.run(self.stop_event)) for c in self.channels]

    async def stop(self) -> None:
        if not self.tasks and not self.app.started:
            return
        self.stop_event.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        await self.app.stop()
        for channel in self.channels:
            await channel.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def settled(self, timeout: float = 10.0) -> None:
        """Every recorded event handled and every reply final."""

        async def done() -> bool:
            async with self.app.db.read() as tx:
                waiting = await tx.messages.count(direction="in", status="received")
                for status in OPEN_OUT:
                    waiting += await tx.messages.count(direction="out", status=status)
            return not waiting

        await eventually(done, timeout=timeout, what="replies to go out")
