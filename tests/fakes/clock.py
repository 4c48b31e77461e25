"""Virtual time for the delivery engine: waits end at once when nothing else can happen.

`FakeTime` is both the engine's `Timer` (monotonic seconds) and the database's wall clock.
A waiter registers its deadline; when the program has been idle for a moment of real time
(nothing runnable, no I/O arriving) and `quiet()` says no work is under way (no send in
flight, no transaction open: time must not pass while a request travels), the clock jumps to
the earliest deadline and wakes that waiter. So a 20-second retry_after or a two-day outage
takes milliseconds, in order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

IDLE = 0.003  # real seconds without activity before time jumps


class FakeTime:
    def __init__(self, start: datetime = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)) -> None:
        self.mono = 1_000.0
        self._epoch = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._advancer: asyncio.Task[None] | None = None
        self.quiet: Callable[[], bool] = lambda: True

    # Timer
    def now(self) -> float:
        return self.mono

    async def wait(self, event: asyncio.Event, deadline: float) -> None:
        if event.is_set() or deadline <= self.mono:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), woken))
        if self._advancer is None or self._advancer.done():
            self._advancer = asyncio.create_task(self._advance())
        setter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({woken, setter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            setter.cancel()
            if not woken.done():
                woken.cancel()

    async def sleep(self, seconds: float) -> None:
        await self.wait(asyncio.Event(), self.mono + seconds)

    # wall clock, for Database(clock=...)
    def __call__(self) -> datetime:
        return self._epoch + timedelta(seconds=self.mono - 1_000.0)

    def advance(self, seconds: float) -> None:
        self.mono += seconds

    async def _advance(self) -> None:
        while self._sleepers:
            await asyncio.sleep(IDLE)
            if not self.quiet():
                continue
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # woken by its event meanwhile
            if not self._sleepers:
                return
            deadline, _, woken = heapq.heappop(self._sleepers)
            self.mono = max(self.mono, deadline)
            woken.set_result(None)


def earlier_run() -> str:
    """A lease owner that `bot.core.owner.is_dead` knows is gone: this host and pid, but an
    earlier run of the program (what a crash before a restart leaves behind)."""
    host = socket.gethostname().replace(":", "-")[:40] or "host"
    return f"{host}:{os.getpid()}:00000000:000000"
