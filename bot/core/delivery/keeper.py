"""Lease upkeep: every lease of this process (rows, channels) renewed in one transaction.

A channel's worker delivers only while this process holds the channel's lease; the keeper
takes it when it is free (or its holder is known dead), hands back what the worker held when
another process took it, and now and then returns rows of dead processes to the line.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.core.delivery.engine import Delivery
    from bot.core.delivery.worker import Worker

log = logging.getLogger(__name__)

EXPIRY_CHECK_SECONDS = 30.0


def lease_name(worker: Worker) -> str:
    return f"delivery:{worker.channel}"


class LeaseKeeper:
    def __init__(self, engine: Delivery) -> None:
        self.engine = engine
        self.unwritten: list[dict[str, Any]] = []  # outcomes a failed write left behind
        self._wake = asyncio.Event()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        timer = self.engine.timer
        next_expiry = timer.now() + EXPIRY_CHECK_SECONDS
        while not self._stopping:
            await timer.wait(self._wake, timer.now() + self.engine.lease / 3)
            if self._stopping:
                return
            expire = timer.now() >= next_expiry
            if expire:
                next_expiry = timer.now() + EXPIRY_CHECK_SECONDS
            try:
                await self.keep(expire=expire)
            except Exception:
                log.exception("renewing leases failed; retrying")

    async def keep(self, *, expire: bool) -> None:
        """Renew our leases, take or keep each channel's, write outcomes that failed to be
        written, and (when `expire`, or on taking a channel over) return rows of dead
        processes to the line."""
        engine = self.engine
        until = engine.db.clock() + timedelta(seconds=engine.lease)
        demoted: list[Worker] = []
        async with engine.db.write() as tx:
            await tx.messages.renew_leases(engine.owner, until)
            if self.unwritten:
                await tx.messages.finish_many(engine.owner, self.unwritten)
            for worker in engine.workers.values():
                expire_here = expire
                if worker.lead:
                    was = worker.leader
                    worker.leader = await tx.leases.acquire(
                        lease_name(worker), engine.owner, until, dead=engine.dead_owners
                    )
                    if worker.leader and not was:
                        log.info("%s: this process now delivers", worker.channel)
                        expire_here = True
                    elif was and not worker.leader:
                        log.warning("%s: another process took over delivery", worker.channel)
                        demoted.append(worker)
                if expire_here and worker.leader:
                    await self._expire(tx, worker)
        for outcome in self.unwritten:
            engine.results.finished(outcome)
        self.unwritten = []
        for worker in demoted:
            await self._hand_back(worker)

    async def _expire(self, tx: Any, worker: Worker) -> None:
        engine = self.engine
        requeued, ambiguous = await tx.messages.expire_sending(
            channel=worker.channel, dead=engine.dead_owners, chats=worker.chats, keep=engine.owner
        )
        if requeued or ambiguous:
            log.warning(
                "%s: %d message(s) cut off by a crash go back to the line, "
                "%d bulk message(s) that may have left are ambiguous",
                worker.channel, requeued, ambiguous,
            )  # fmt: skip
        worker.notify()

    async def _hand_back(self, worker: Worker) -> None:
        """The worker lost its channel: rows it held and had not started go back to pending
        for the new holder (those under way finish and are written as usual)."""
        ids = worker.drop_held()
        if ids:
            async with self.engine.db.write() as tx:
                await tx.messages.release(self.engine.owner, ids)
