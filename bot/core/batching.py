"""Group commit: what arrives while one batch is being written goes together in the next.

Concurrent callers (webhook requests, finished sends) each await their own result, but share
one transaction. A failing batch is retried item by item, so one bad item fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from storage.database import DatabaseUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self, flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 500
    ) -> None:
        self._flush = flush
        self._max = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="batcher")
        return await future

    async def drained(self) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            await self._write(batch)

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, DatabaseUnavailable):  # none would go in
                for _, future in batch:
                    _settle(future, error=exc)
                return
            log.warning("a batch of %d failed (%s); writing them one by one", len(batch), exc)
            for one in batch:
                await self._write([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[R], *, result: R | None = None, error: Exception | None = None
) -> None:
    if future.done():  # the caller gave up waiting
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
