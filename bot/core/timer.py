"""Time as the engine sees it: a monotonic clock and a wait that an event can cut short.

Injected everywhere time matters (rate windows, retry waits, lease renewals), so tests run
them on a fake clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Timer(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock."""

    async def wait(self, event: asyncio.Event, deadline: float) -> None:
        """Return when `event` is set or the clock reaches `deadline`, whichever is first."""


class RealTimer:
    def now(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if event.is_set() or delay <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), delay)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
