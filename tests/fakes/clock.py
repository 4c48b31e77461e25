"""Virtual time for the delivery engine: waits end at once when nothing else can happen.

`FakeTime` is both the engine's `Timer` (monotonic seconds) and the database's wall clock.
A waiter registers its deadline; when the program has been idle for a moment of real time
(nothing runnable, no I/O arriving) and `quiet()` says no work is under way (no send in
flight, no transaction open: time must not pass while a request travels), the clock jumps to
the earliest deadline and wakes that waiter. So a 20-second retry_after or a two-day outage
takes milliseconds, in order.

Without waiters it is simply a settable clock (`set`, `advance`): the storage contract
suite's `Database(clock=...)`, APScheduler's `datetime.now` in the scheduler test, and, as
float seconds through `epoch`, the fake WeChat API's windows and token expiry.

With `ticking=True` it is instead a wall clock pinned to `start` that moves on with real
time (for a whole bot on real timers): tests get a known date, whatever day they run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

IDLE = 0.003  # real seconds without activity before time jumps
# The day tests live on unless they say otherwise: Tuesday 1 December 2026, 09:00 in Beijing,
# a trading day (the holiday package knows 2026) before the notes and dates tests write for.
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self, start: datetime = START, *, ticking: bool = False) -> None:
        self.mono = 1_000.0
        assert start.tzinfo is not None, "the fake clock only hands out aware datetimes"
        self._epoch = start.astimezone(UTC)  # in UTC, as the program's own clock
        self._real = time.monotonic() if ticking else None
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._advancer: asyncio.Task[None] | None = None
        self.quiet: Callable[[], bool] = lambda: True

    # Timer
    def now(self) -> float:
        if self._real is None:
            return self.mono
        return self.mono + time.monotonic() - self._real

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
        return self._epoch + timedelta(seconds=self.now() - 1_000.0)

    def epoch(self) -> float:
        """The wall clock as Unix seconds (what WeChat's fakes count in)."""
        return self().timestamp()

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move on by `seconds` (or `timedelta` keywords: ``advance(days=2)``)."""
        self.mono += seconds + timedelta(**delta).total_seconds()
        return self()

    def set(self, when: datetime) -> None:
        """Jump to `when` (aware); virtual waiters due before it wake in order."""
        assert when.tzinfo is not None, "the fake clock only hands out aware datetimes"
        self.advance((when - self()).total_seconds())

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


@dataclass
class ManualClock:
    """Seconds since the epoch, shared by a fake server and the client under test; moved by
    hand (`now += …`)."""

    now: float = field(default_factory=START.timestamp)

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)
