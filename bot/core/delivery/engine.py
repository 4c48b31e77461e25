"""The delivery engine: one worker per channel over one outbox, shared by replies and bulk.

Rows are claimed in batches under a lease (owner and expiry) and outcomes are written back
in batches (group commit). A reply written by a handler in this process is inserted already
claimed by us and handed straight to the worker: no claim round trip on the hot path.
A lease keeper renews every lease of ours (rows and per-channel leases) in one statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from bot.core.batching import Batcher
from bot.core.delivery.outbox import Job, render
from bot.core.delivery.retry import RetryPolicy
from bot.core.delivery.worker import Sender, Worker
from bot.core.i18n import Translator
from bot.core.owner import is_dead, new_owner
from bot.core.timer import RealTimer, Timer
from bot.core.types import Capabilities, Outbound
from storage.database import Database
from storage.records import StoredMessage
from storage.repos.messages import FINAL_OUT
from storage.tx import Tx

log = logging.getLogger(__name__)

LEASE_SECONDS = 15.0
POLL_SECONDS = 0.5  # how often an idle worker looks for rows other processes wrote
EXPIRY_CHECK_SECONDS = 30.0
REMEMBERED = 10_000  # finished row ids kept for late `settled` callers


class Delivery:
    def __init__(
        self,
        db: Database,
        *,
        timer: Timer | None = None,
        owner: str | None = None,
        policy: RetryPolicy | None = None,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.db = db
        self.timer: Timer = timer or RealTimer()
        self.owner = owner or new_owner()
        self.policy = policy or RetryPolicy()
        self.lease = lease_seconds
        self.poll = poll_seconds
        self.workers: dict[str, Worker] = {}
        self._writer: Batcher[dict[str, Any], None] = Batcher(self._write, max_batch=1000)
        self._unwritten: list[dict[str, Any]] = []
        self._done: OrderedDict[int, str] = OrderedDict()
        self._waiters: dict[int, list[asyncio.Future[str]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._keeper_wake = asyncio.Event()
        self._stopping = False
        self.dead_owners: tuple[str, ...] = ()

    # ---- set-up -------------------------------------------------------------------------------

    def register(
        self,
        sender: Sender,
        *,
        chats: Sequence[str] | None = None,
        lead: bool | None = None,
        concurrency: int = 64,
    ) -> None:
        """Serve `sender.channel` (only `chats` of it, when given). A leading worker holds
        the channel's lease, so only one process sends for a bot token at a time."""
        self.workers[sender.channel] = Worker(
            self,
            sender,
            chats=chats,
            lead=chats is None if lead is None else lead,
            concurrency=concurrency,
        )

    def capabilities(self, channel: str) -> Capabilities:
        worker = self.workers.get(channel)
        return worker.sender.capabilities if worker else Capabilities()

    @property
    def sending(self) -> bool:
        """A platform call is under way on some channel."""
        return any(w.in_flight for w in self.workers.values())

    def serves(self, chat: str) -> bool:
        worker = self.workers.get(chat.split(":", 1)[0])
        return worker is not None and worker.serves(chat)

    def scope(self) -> tuple[list[str], list[str]]:
        """(channels served whole, single chats served): whose events this process handles
        when their first handler is gone."""
        channels = [w.channel for w in self.workers.values() if w.chats is None]
        chats = [c for w in self.workers.values() if w.chats is not None for c in w.chats]
        return channels, chats

    async def start(self) -> None:
        """Take the channel leases and clear what dead processes left, then serve."""
        async with self.db.read() as tx:
            owners = await tx.messages.lease_owners() | await tx.leases.holders()
        self.dead_owners = tuple(o for o in owners if is_dead(o, self.owner))
        await self._keep(expire=True)
        for worker in self.workers.values():
            self._tasks.append(asyncio.create_task(worker.run(), name=f"deliver-{worker.channel}"))
        self._tasks.append(asyncio.create_task(self._keeper(), name="lease-keeper"))

    async def stop(self, grace: float = 10.0) -> None:
        """Let sends under way finish (up to `grace`), write every outcome, and hand back
        what was held but not tried; rows cut off mid-call count as in flight at a crash."""
        self._stopping = True
        self._keeper_wake.set()
        unsent: list[int] = []
        cut: list[Job] = []
        for worker in self.workers.values():
            ids, jobs = await worker.stop(grace)
            unsent += ids
            cut += jobs
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._writer.drained()
        try:
            async with self.db.write() as tx:
                await tx.messages.finish_many(self.owner, self._unwritten)
                ambiguous = [
                    {
                        "id": j.id,
                        "status": "ambiguous",
                        "tries": j.tries,
                        "error": "cut off at shutdown",
                    }
                    for j in cut
                    if j.bulk
                ]
                await tx.messages.finish_many(self.owner, ambiguous)
                await tx.messages.release(self.owner)
                for worker in self.workers.values():
                    if worker.lead:
                        await tx.leases.release(self._lease_name(worker), self.owner)
        except Exception:
            log.exception(
                "could not hand back %d held message(s); they return after their lease", len(unsent)
            )

    # ---- writing rows -------------------------------------------------------------------------

    def render(
        self,
        outs: Iterable[Outbound],
        *,
        chat: str,
        client_id: int | None = None,
        reply_to: int | None = None,
        ref_id: str | None = None,
        t: Translator | None = None,
        locked: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows for the outbox; those this process will send itself come already claimed."""
        rows = render(
            outs,
            chat=chat,
            capabilities=self.capabilities,
            client_id=client_id,
            reply_to=reply_to,
            ref_id=ref_id,
            t=t,
            locked=locked,
        )
        until = self.db.clock() + timedelta(seconds=self.lease)
        for row in rows:
            worker = self.workers.get(row["channel"])
            if (
                worker is not None
                and worker.leader
                and not worker.stopping
                and worker.serves(row["chat"])
            ):
                row.update(status="sending", lease_owner=self.owner, lease_until=until)
            else:
                row.update(status="pending", lease_owner=None, lease_until=None)
        return rows

    async def enqueue(self, tx: Tx, outs: Iterable[Outbound], *, chat: str, **kw: Any) -> list[int]:
        """Write rows in the caller's transaction as `pending`; call `notify` after commit."""
        rows = render(outs, chat=chat, capabilities=self.capabilities, **kw)
        return await tx.messages.add_outbound_many(rows)

    def adopt(self, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """After the commit: rows claimed in `render` go to their worker, others wake it."""
        now = self.db.clock()
        by_channel: dict[str, list[Job]] = {}
        for row_id, row in rows:
            channel = row["channel"]
            if row.get("lease_owner") != self.owner:
                self.notify(channel)
                continue
            by_channel.setdefault(channel, []).append(
                Job(
                    row_id,
                    row["chat"],
                    row["text"],
                    row["payload"],
                    row.get("bulk", False),
                    row.get("priority", 0),
                    now,
                )
            )
        for channel, jobs in by_channel.items():
            self.workers[channel].take(jobs)

    def notify(self, channel: str | None = None) -> None:
        """Rows were written by someone else (another process, a staff command)."""
        for name, worker in self.workers.items():
            if channel is None or name == channel:
                worker.notify()

    async def settled(self, ids: Iterable[int], timeout: float = 30.0) -> dict[int, str]:
        """Wait until these rows have a final status written by this process (console, tests)."""
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

    # ---- for workers --------------------------------------------------------------------------

    async def claim(self, worker: Worker, limit: int) -> tuple[list[StoredMessage], float | None]:
        """Up to `limit` due rows for `worker`; when there are fewer, also the seconds until
        the next pending row falls due (None: nothing pending)."""
        now = self.db.clock()
        until = now + timedelta(seconds=self.lease)
        async with self.db.write() as tx:
            rows = await tx.messages.claim(
                worker.channel, owner=self.owner, lease_until=until, limit=limit, chats=worker.chats
            )
            if len(rows) == limit:
                return rows, None
            due = await tx.messages.next_due(worker.channel, chats=worker.chats)
        return rows, None if due is None else max(0.0, (due - now).total_seconds())

    async def mark_sending(self, ids: Sequence[int]) -> None:
        async with self.db.write() as tx:
            await tx.messages.mark_sending(self.owner, ids)

    async def record(self, outcome: dict[str, Any]) -> None:
        """Write one send's outcome; concurrent outcomes share a transaction."""
        try:
            await self._writer.submit(outcome)
        except Exception:
            log.exception("could not record the outcome of message %s; retrying", outcome["id"])
            self._unwritten.append(outcome)
            return
        self._finished(outcome)

    async def _write(self, outcomes: Sequence[dict[str, Any]]) -> list[None]:
        async with self.db.write() as tx:
            await tx.messages.finish_many(self.owner, outcomes)
        return [None] * len(outcomes)

    def _finished(self, outcome: dict[str, Any]) -> None:
        status = outcome["status"]
        if status not in FINAL_OUT:
            return
        row_id = outcome["id"]
        self._done[row_id] = status
        if len(self._done) > REMEMBERED:
            self._done.popitem(last=False)
        for future in self._waiters.pop(row_id, []):
            if not future.done():
                future.set_result(status)

    async def extra_call(self, channel: str, max_wait: float = 5.0) -> bool:
        """Book a platform call outside the outbox (answering a button) within the channel's
        limits; False when it would have to wait longer than `max_wait`."""
        worker = self.workers.get(channel)
        if worker is None:
            return True
        waited = 0.0
        while True:
            delay = worker.pacer.earliest(self.timer.now()) - self.timer.now()
            if delay <= 0:
                worker.pacer.record(None, self.timer.now())
                return True
            if waited + delay > max_wait:
                return False
            waited += delay
            await self.timer.wait(asyncio.Event(), self.timer.now() + delay)

    # ---- leases -------------------------------------------------------------------------------

    @staticmethod
    def _lease_name(worker: Worker) -> str:
        return f"delivery:{worker.channel}"

    async def _keeper(self) -> None:
        next_expiry = self.timer.now() + EXPIRY_CHECK_SECONDS
        while not self._stopping:
            await self.timer.wait(self._keeper_wake, self.timer.now() + self.lease / 3)
            if self._stopping:
                return
            expire = self.timer.now() >= next_expiry
            if expire:
                next_expiry = self.timer.now() + EXPIRY_CHECK_SECONDS
            try:
                await self._keep(expire=expire)
            except Exception:
                log.exception("renewing leases failed; retrying")

    async def _keep(self, *, expire: bool) -> None:
        """Renew our leases, take or keep each channel's, write outcomes that failed to be
        written, and (now and then) return rows of dead processes to the line."""
        until = self.db.clock() + timedelta(seconds=self.lease)
        async with self.db.write() as tx:
            await tx.messages.renew_leases(self.owner, until)
            if self._unwritten:
                await tx.messages.finish_many(self.owner, self._unwritten)
            for worker in self.workers.values():
                if worker.lead:
                    was = worker.leader
                    worker.leader = await tx.leases.acquire(
                        self._lease_name(worker), self.owner, until, dead=self.dead_owners
                    )
                    if worker.leader and not was:
                        log.info("%s: this process now delivers", worker.channel)
                        expire = True
                    elif was and not worker.leader:
                        log.warning("%s: another process took over delivery", worker.channel)
                if expire and worker.leader:
                    requeued, ambiguous = await tx.messages.expire_sending(
                        channel=worker.channel,
                        dead=self.dead_owners,
                        chats=worker.chats,
                        keep=self.owner,
                    )
                    if requeued or ambiguous:
                        log.warning(
                            "%s: %d reply(ies) cut off by a crash will be sent again, "
                            "%d bulk message(s) are ambiguous",
                            worker.channel, requeued, ambiguous,
                        )  # fmt: skip
                    worker.notify()
        for outcome in self._unwritten:
            self._finished(outcome)
        self._unwritten = []
