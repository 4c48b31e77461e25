"""Final outcomes as this process writes them, for those who wait on particular rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterable

from storage.records import Outcome
from storage.repos.messages import FINAL_OUT

REMEMBERED = 10_000  # finished row ids kept for callers who ask after the fact


class Results:
    def __init__(self) -> None:
        self._done: OrderedDict[int, str] = OrderedDict()
        self._waiters: dict[int, list[asyncio.Future[str]]] = {}

    def finished(self, outcome: Outcome) -> None:
        """An outcome was written; a final one settles the row."""
        status = outcome.status
        if status not in FINAL_OUT:
            return
        row_id = outcome.id
        self._done[row_id] = status
        if len(self._done) > REMEMBERED:
            self._done.popitem(last=False)
        for future in self._waiters.pop(row_id, []):
            if not future.done():
                future.set_result(status)

    def known(self, row_id: int) -> bool:
        return row_id in self._done

    async def settled(self, ids: Iterable[int], timeout: float) -> dict[int, str]:
        """Each row's final status, or "pending" for those still open after `timeout`."""
        result: dict[int, str] = {}
        waits: dict[int, asyncio.Future[str]] = {}
        loop = asyncio.get_running_loop()
        for row_id in ids:
            if row_id in self._done:
                result[row_id] = self._done[row_id]
            else:
                waits[row_id] = loop.create_future()
                self._waiters.setdefault(row_id, []).append(waits[row_id])
        if waits:
            done, _ = await asyncio.wait(set(waits.values()), timeout=timeout)
            for row_id, future in waits.items():
                result[row_id] = future.result() if future in done else "pending"
                with contextlib.suppress(ValueError):
                    self._waiters.get(row_id, []).remove(future)
                if not self._waiters.get(row_id):
                    self._waiters.pop(row_id, None)
        return result
