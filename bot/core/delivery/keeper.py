"""Lease upkeep: every lease of this process (rows, channels) renewed in one transaction.

A channel's worker delivers only while this process holds the channel's lease; the keeper
takes it when it is free (or its holder is known dead), tells the worker, hands back what
the worker held when another process took it, and now and then returns rows of dead
processes to the line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

from bot.core.delivery.store import OutboxStore
from bot.core.delivery.worker import Worker
from bot.core.failures import log_failure
from bot.core.owner import Tenure
from bot.core.timer import Timer
from storage.records import Outcome

log = logging.getLogger(__name__)

EXPIRY_CHECK_SECONDS = 30.0


def lease_name(channel: str) -> str:
    return f"delivery:{channel}"


class LeaseKeeper:
    def __init__(
        self,
        store: OutboxStore,
        workers: Mapping[str, Worker],
        *,
        timer: Timer,
        tenure: Tenure,
        written: Callable[[Outcome], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.workers = workers  # the engine's, by channel; read at every round
        self.timer = timer
        self.tenure = tenure  # the engine's: owner id, lease length, owners found dead
        self.written = written  # told of outcomes written late (those who wait on rows)
        self.unwritten: list[Outcome] = []  # outcomes a failed write left behind
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def owner(self) -> str:
        return self.tenure.owner

    @property
    def lease(self) -> float:
        """Seconds a lease holds before another process may take it."""
        return self.tenure.seconds

    @property
    def dead_owners(self) -> tuple[str, ...]:
        """Owners known gone: their leases are ours to take."""
        return self.tenure.dead

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        timer = self.timer
        next_expiry = timer.now() + EXPIRY_CHECK_SECONDS
        while not self._stopping:
            await timer.wait(self._wake, timer.now() + self.lease / 3)
            if self._stopping:
                return
            expire = timer.now() >= next_expiry
            if expire:
                next_expiry = timer.now() + EXPIRY_CHECK_SECONDS
            try:
                await self.keep(expire=expire)
            except Exception as exc:
                log_failure(log, exc, "renewing leases failed; retrying")

    async def keep(self, *, expire: bool) -> None:
        """Renew our leases, take or keep each channel's, write outcomes that failed to be
        written, and (when `expire`, or on taking a channel over) return rows of dead
        processes to the line."""
        until = self.store.now() + timedelta(seconds=self.lease)
        leading = [w for w in self.workers.values() if w.lead]
        unwritten, self.unwritten = self.unwritten, []
        try:
            held = await self.store.renew(
                self.owner,
                until,
                unwritten=unwritten,
                leases=[lease_name(w.channel) for w in leading],
                dead=self.dead_owners,
            )
        except Exception:
            self.unwritten = unwritten + self.unwritten
            raise
        for outcome in unwritten:
            self.written(outcome)
        demoted: list[Worker] = []
        expiring: list[Worker] = []
        for worker in self.workers.values():
            was = worker.leader
            worker.set_leader(lease_name(worker.channel) in held)
            if worker.leader and not was:
                log.info("%s: this process now delivers", worker.channel)
                expiring.append(worker)
            elif was and not worker.leader:
                log.warning("%s: another process took over delivery", worker.channel)
                demoted.append(worker)
            elif expire and worker.leader:
                expiring.append(worker)
        for worker in expiring:
            await self._expire(worker)
        for worker in demoted:
            await self._hand_back(worker)

    async def _expire(self, worker: Worker) -> None:
        requeued, ambiguous = await self.store.expire(
            worker.channel, dead=self.dead_owners, chats=worker.chats, keep=self.owner
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
            await self.store.release(self.owner, ids)
