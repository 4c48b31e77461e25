"""The delivery engine: one worker per channel over one outbox, shared by replies and bulk.

Rows are claimed in batches under a lease (owner and expiry) and outcomes are written back
in batches (group commit). A reply written by a handler in this process is inserted already
claimed by us and handed straight to the worker: no claim round trip on the hot path.
A lease keeper renews every lease of ours (rows and per-channel leases) in one statement.
Rows are reached only through an `OutboxStore` (`store.py`): the database in production, an
in-memory store in the engine's unit tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from bot.core.delivery.keeper import LeaseKeeper, lease_name
from bot.core.delivery.outbox import Job, render
from bot.core.delivery.results import Results
from bot.core.delivery.retry import RetryPolicy
from bot.core.delivery.store import OutboxStore
from bot.core.delivery.worker import Sender, Worker
from bot.core.delivery.writer import Blocked, OutcomeWriter, Undelivered
from bot.core.health.state import Health
from bot.core.i18n import Translator
from bot.core.owner import Tenure, is_dead, new_owner
from bot.core.stats import Stats
from bot.core.timer import RealTimer, Timer
from bot.core.types import KNOWN_CAPABILITIES, Capabilities, Outbound
from storage.records import Outcome
from storage.tx import Tx

log = logging.getLogger(__name__)

LEASE_SECONDS = 15.0
POLL_SECONDS = 0.5  # how often an idle worker looks for rows other processes wrote


class Delivery:
    def __init__(
        self,
        store: OutboxStore,
        *,
        timer: Timer | None = None,
        owner: str | None = None,
        policy: RetryPolicy | None = None,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        translator: Translator | None = None,
        health: Health | None = None,
    ) -> None:
        self.store = store
        # Each channel's health, fed by every send's outcome and by the channels themselves.
        self.health = health or Health(store.now)
        self.stats = Stats()  # what this process counts for /metrics (the inbox's too)
        self.translator = translator  # numbered options on channels without buttons
        self.timer: Timer = timer or RealTimer()
        self.tenure = Tenure(owner or new_owner(), lease_seconds)
        self.policy = policy or RetryPolicy()
        self._poll = poll_seconds
        self.workers: dict[str, Worker] = {}
        self.results = Results()
        self.keeper = LeaseKeeper(
            store,
            self.workers,
            timer=self.timer,
            tenure=self.tenure,
            written=self.results.finished,
        )
        self.writer = OutcomeWriter(
            store,
            self.tenure,
            self.results,
            enqueue=self.enqueue,
            notify=self.notify,
            unwritten=self.keeper.unwritten.append,
        )
        self._tasks: list[asyncio.Task[None]] = []

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
            sender,
            self.store,
            timer=self.timer,
            policy=self.policy,
            tenure=self.tenure,
            poll=self.poll,
            record=self.writer.record,
            chats=chats,
            lead=chats is None if lead is None else lead,
            concurrency=concurrency,
            translator=self.translator,
            health=self.health,
            stats=self.stats,
        )
        self.health.track(self.health.channel_of(sender.channel))

    @property
    def owner(self) -> str:
        """Who this process is on every lease it holds (`bot.core.owner`)."""
        return self.tenure.owner

    @owner.setter
    def owner(self, owner: str) -> None:  # tests play a process that died
        self.tenure.owner = owner

    @property
    def lease(self) -> float:
        """Seconds a lease (rows, channel) lasts unless renewed."""
        return self.tenure.seconds

    @lease.setter
    def lease(self, seconds: float) -> None:  # tests tune it after construction
        self.tenure.seconds = seconds

    @property
    def poll(self) -> float:
        """How often an idle worker looks for rows other processes wrote."""
        return self._poll

    @poll.setter
    def poll(self, seconds: float) -> None:
        self._poll = seconds
        for worker in self.workers.values():
            worker.poll = seconds

    def capabilities(self, channel: str) -> Capabilities:
        worker = self.workers.get(channel)
        if worker is not None:
            return worker.sender.capabilities
        return KNOWN_CAPABILITIES.get(channel, Capabilities())

    def leads(self, channel: str) -> bool:
        """Whether this process sends for `channel` now (holds its lease, where it needs one)."""
        worker = self.workers.get(channel)
        return worker is not None and worker.leader

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

    @property
    def dead_owners(self) -> tuple[str, ...]:
        """Lease owners found at start whose process is gone."""
        return self.tenure.dead

    async def start(self) -> None:
        """Take the channel leases and clear what dead processes left, then serve."""
        owners = await self.store.owners()
        dead = tuple(o for o in owners if is_dead(o, self.owner))
        self.tenure.dead = dead
        await self.keeper.keep(expire=True)
        for worker in self.workers.values():
            self._tasks.append(asyncio.create_task(worker.run(), name=f"deliver-{worker.channel}"))
        self._tasks.append(asyncio.create_task(self.keeper.run(), name="lease-keeper"))

    async def stop(self, grace: float = 10.0) -> None:
        """Let sends under way finish (up to `grace`), write every outcome, and hand back
        what was held but not tried; rows cut off mid-call count as in flight at a crash."""
        self.keeper.stop()
        unsent: list[int] = []
        cut: list[Job] = []
        for worker in self.workers.values():
            ids, jobs = await worker.stop(grace)
            unsent += ids
            cut += jobs
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.writer.drained()
        ambiguous = [
            Outcome(j.id, "ambiguous", "cut off at shutdown", tries=j.tries) for j in cut if j.bulk
        ]
        leases = [lease_name(w.channel) for w in self.workers.values() if w.lead]
        try:
            await self.store.finish(self.owner, [*self.keeper.unwritten, *ambiguous])
            await self.store.release(self.owner, leases=leases)
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
        until = self.store.now() + timedelta(seconds=self.lease)
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

    async def enqueue(
        self, tx: Tx, outs: Iterable[Outbound], *, chat: str = "", **kw: Any
    ) -> list[int]:
        """Write rows in the caller's transaction as `pending`; call `notify` after commit.
        `chat` is for messages that name none (notices from a job all name theirs)."""
        rows = render(outs, chat=chat, capabilities=self.capabilities, **kw)
        return await tx.messages.add_outbound_many(rows)

    def adopt(self, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """After the commit: rows claimed in `render` go to their worker, others wake it."""
        now = self.store.now()
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

    def ours(self, ids: Iterable[int]) -> list[int]:
        """Those of `ids` this process is sending or has sent; the rest (a notice to another
        console user, say) are for whoever serves their chat."""
        return [
            i
            for i in ids
            if self.results.known(i) or any(i in w.held for w in self.workers.values())
        ]

    async def settled(self, ids: Iterable[int], timeout: float = 30.0) -> dict[int, str]:
        """Wait until these rows have a final status written by this process (console, tests)."""
        return await self.results.settled(ids, timeout)

    # ---- for workers --------------------------------------------------------------------------

    def on_undelivered(self, hook: Undelivered) -> None:
        """Call `hook` for undeliverable rows that carry a `ref` (a relayed message, say)."""
        self.writer.undelivered.append(hook)

    def on_blocked(self, hook: Blocked) -> None:
        """Call `hook` with the chats a send found blocking the bot (403)."""
        self.writer.blocked.append(hook)

    async def extra_call(self, channel: str, max_wait: float = 5.0) -> bool:
        """Book a platform call outside the outbox (answering a button) within the channel's
        limits; False when it would have to wait longer than `max_wait`."""
        worker = self.workers.get(channel)
        if worker is None:
            return True
        waited = 0.0
        while True:
            delay = worker.extra_slot(self.timer.now())
            if delay <= 0:
                return True
            if waited + delay > max_wait:
                return False
            waited += delay
            await self.timer.wait(asyncio.Event(), self.timer.now() + delay)
