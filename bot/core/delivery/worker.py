"""One channel's delivery worker: claims rows in batches, keeps up to N sends in flight, and
starts each send only when every platform limit allows it (which row goes next is
`schedule.ChatQueues`'s choice: replies before bulk, higher priority first, oldest first,
one at a time per chat), when the channel-wide window has room.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Protocol

from bot.core.delivery.limits import Limits, Pacer
from bot.core.delivery.outbox import Job, OutMessage, with_options
from bot.core.delivery.retry import RetryPolicy, SendFailure
from bot.core.delivery.schedule import ChatQueues
from bot.core.delivery.store import OutboxStore
from bot.core.failures import log_failure
from bot.core.health.state import Health
from bot.core.i18n import Translator, default_translator
from bot.core.log_context import about
from bot.core.owner import Tenure
from bot.core.stats import Stats
from bot.core.timer import Timer
from bot.core.types import Capabilities
from storage.records import Outcome, StoredMessage

log = logging.getLogger(__name__)

IN_MEMORY_WAIT = 10.0  # longer retry waits go back to the database as `pending`
# Failures that say the platform is not answering (a 429's `retry_after` says it is). Only a
# send that went through says it is back: a refusal may be the sender's own, made without
# any call (outside WeChat's window, say), and would hide an outage behind it.
OUTAGE = frozenset({"retry", "ambiguous"})


class Sender(Protocol):
    channel: str
    capabilities: Capabilities
    limits: Limits

    def is_group(self, chat: str) -> bool:
        """Whether `chat` is a group (group limits apply)."""

    async def send(self, message: OutMessage) -> str | None:
        """Make one platform call; return the platform's message id. Raise SendFailure."""


Record = Callable[[Outcome], Awaitable[None]]


class Worker:
    def __init__(
        self,
        sender: Sender,
        store: OutboxStore,
        *,
        timer: Timer,
        policy: RetryPolicy,
        tenure: Tenure,
        poll: float,
        record: Record,
        chats: Sequence[str] | None,
        lead: bool,
        concurrency: int,
        translator: Translator | None = None,
        health: Health | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.store = store
        self.health = health
        self.stats = stats if stats is not None else Stats()  # sends by outcome, 429 holds
        self.timer = timer
        self.policy = policy
        self.tenure = tenure  # the engine's: owner id and lease length
        self.poll = poll
        self.record = record  # writes one outcome (batched with others by the engine)
        self.sender = sender
        self.channel = sender.channel
        # Numbers the options of rows with buttons on a channel that has none.
        self.translator = translator or default_translator()
        self.chats = list(chats) if chats is not None else None
        self.lead = lead  # must hold the channel's lease to send (one sender per token)
        self.leader = not lead
        self.concurrency = concurrency
        self.pacer = Pacer(sender.limits)
        rate = sender.limits.rate
        # Claim about a fifth of a second of sends at a time: enough to keep the line full,
        # few enough that a crash leaves little in doubt and the inline statement is short.
        self.batch = 100 if math.isinf(rate) else max(4, min(200, math.ceil(rate / 5)))
        self.held: dict[int, Job] = {}
        self.queues = ChatQueues(self.pacer, sender.is_group, timer.now)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending: dict[int, Job] = {}  # calls under way
        self._in_flight = 0
        self.wake = asyncio.Event()
        self._want_claim = True
        self._next_claim = 0.0
        self._next_forget = 0.0
        self._probing = False
        # Bulk rows are marked `sending` a few at a time, just ahead of their turn.
        self.launch_batch = 50 if math.isinf(rate) else max(1, min(50, math.ceil(rate / 20)))
        self.stopping = False

    @property
    def owner(self) -> str:
        return self.tenure.owner

    @property
    def lease(self) -> float:
        """Seconds a lease holds before another process may take it."""
        return self.tenure.seconds

    # ---- feeding ------------------------------------------------------------------------------

    def take(self, jobs: Sequence[Job]) -> None:
        """Jobs this process holds now (adopted replies, claimed rows)."""
        for job in jobs:
            if job.id in self.held:
                continue
            self.held[job.id] = job
            self.queues.add(job)
        self.wake.set()

    def drop_held(self) -> list[int]:
        """Forget every held row not under way (another process delivers now); their ids."""
        dropped = [i for i in self.held if i not in self._sending]
        for row_id in dropped:
            del self.held[row_id]
        self.queues.clear()
        return dropped

    def set_leader(self, held: bool) -> None:
        """Whether this process holds the channel's lease now (told by the lease keeper)."""
        if self.lead:
            self.leader = held

    def notify(self) -> None:
        """Rows may be waiting in the database."""
        self._want_claim = True
        self.wake.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def serves(self, chat: str) -> bool:
        return self.chats is None or chat in self.chats

    # ---- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until stopped; a bug in one round is logged and the next round goes on."""
        while not self.stopping:
            try:
                await self._rounds()
            except Exception as exc:
                log_failure(log, exc, "%s: delivery loop failed; going on", self.channel)
                await self.timer.wait(asyncio.Event(), self.timer.now() + 1.0)

    async def _rounds(self) -> None:
        timer = self.timer
        while not self.stopping:
            self.wake.clear()
            now = timer.now()
            if self._claim_due(now):
                await self._claim(now)
                now = timer.now()
            if now >= self._next_forget:
                self.pacer.forget(now)
                self._next_forget = now + 60.0
            self.queues.promote(now)
            # No claim during a hold: waiting for one then would spin until the hold ends.
            claim_at = max(self._next_claim, self.pacer.hold_until)
            deadline = claim_at if self.leader else now + self.poll
            # After a 429, one probe at a time until a send goes through again.
            limit = 1 if self._probing else self.concurrency
            head = self.queues.head()
            if head is not None and self._in_flight < limit and self.leader:
                at = self.pacer.earliest(now)
                if self.pacer.next_group > at and self.sender.is_group(head.chat):
                    at = self.pacer.next_group  # spacing between groups, any groups
                if at <= now:
                    if not head.launched:
                        await self._launch()
                    else:
                        self._start(now)
                    continue
                deadline = min(deadline, at)
            cooling = self.queues.next_cooling()
            if cooling is not None:
                deadline = min(deadline, cooling)
            await timer.wait(self.wake, deadline)

    def _claim_due(self, now: float) -> bool:
        if not self.leader or self.stopping or self.pacer.held(now):
            return False
        if len(self.held) >= self.batch * 2:
            return False
        return self._want_claim or now >= self._next_claim

    async def _claim(self, now: float) -> None:
        self._want_claim = False
        self._next_claim = now + self.poll
        wall = self.store.now()
        try:
            rows, due = await self.store.claim(
                self.channel,
                owner=self.owner,
                until=wall + timedelta(seconds=self.lease),
                limit=self.batch,
                chats=self.chats,
            )
        except Exception as exc:
            log_failure(log, exc, "%s: claiming outbox rows failed", self.channel)
            return
        if len(rows) == self.batch:
            self._want_claim = True  # more are waiting
        elif due is not None:  # a row waiting out a retry falls due before the next poll
            due_in = max(0.0, (due - wall).total_seconds())
            self._next_claim = min(self._next_claim, now + due_in)
        self.take([job_of(r) for r in rows])

    async def _launch(self) -> None:
        """Mark the bulk rows next in line `sending` (one statement) before any is tried:
        a crash from here on may have delivered them, so they would become `ambiguous`."""
        jobs = [j for j in self.queues.upcoming(self.launch_batch) if not j.launched]
        try:
            ours = await self.store.mark_sending(self.owner, [j.id for j in jobs])
        except Exception as exc:
            log_failure(
                log, exc, "%s: marking %d message(s) as sending failed", self.channel, len(jobs)
            )
            await self.timer.wait(asyncio.Event(), self.timer.now() + 1.0)
            return
        for job in jobs:
            job.launched = True
            job.dropped = job.id not in ours  # cancelled while it queued: never sent

    def _start(self, now: float) -> None:
        job = self.queues.pop()
        chat = job.chat
        if job.dropped:
            self.held.pop(job.id, None)
            self.queues.done(chat)
            return
        ticket = self.pacer.record(chat, now, group=self.sender.is_group(chat))
        self._in_flight += 1
        job.tries += 1
        self._sending[job.id] = job
        task = asyncio.create_task(self._send(job, ticket), name=f"send-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, job: Job, ticket: int) -> None:
        outcome: Outcome | None
        about(self.channel, job.chat)  # this send's own task: its log lines name the chat
        started = self.timer.now()
        self.pacer.restamp(ticket, job.chat, started)
        try:
            message = job.message()
            if message.buttons and not self.sender.capabilities.buttons:
                message = with_options(message, self.translator)
            platform_id = await self.sender.send(message)
        except SendFailure as failure:
            outcome = self._failed(job, failure)
        except Exception as exc:  # a bug in a sender must not take the bot down
            log.exception("%s: send %s crashed", self.channel, job.id)
            outcome = self._final(job, "failed", repr(exc)[:500])
        else:
            # Only a send started after the hold proves the platform takes calls again; one
            # that left before the 429 came back says nothing.
            if started >= self.pacer.hold_until:
                self._probing = False
            if self.health is not None:
                self.health.answered(self.channel)
            outcome = self._final(job, "sent", None, platform_id)
        finally:
            self._sending.pop(job.id, None)
            self._in_flight -= 1
            self.queues.done(job.chat)
            self.wake.set()
        # sent, failed, blocked, rejected …; "retry": tried again later (or at a new address)
        status = "pending" if outcome is None else outcome.status
        self.stats.sends[self.channel, "retry" if status == "pending" else status] += 1
        if outcome is not None:
            await self.record(outcome)

    def _final(
        self, job: Job, status: str, error: str | None, platform_id: str | None = None
    ) -> Outcome:
        self.held.pop(job.id, None)
        if status == "sent":
            return Outcome(job.id, status, error, platform_id, job.tries)
        log.warning("%s: message %s %s: %s", self.channel, job.id, status, error)
        # A relay that failed carries its ref: someone is told.
        ref = job.payload.get("ref") or None
        return Outcome(job.id, status, error, platform_id, job.tries, job.chat, ref)

    def _failed(self, job: Job, failure: SendFailure) -> Outcome | None:
        now = self.timer.now()
        if self.health is not None and failure.reason in OUTAGE and failure.retry_after is None:
            self.health.failed(self.channel, failure.detail or str(failure))
        if failure.reason == "moved" and failure.moved_to and failure.moved_to != job.chat:
            # Back to the database under the new address, due at once; the outcome's writer
            # moves the chat's other rows and its identity too.
            self.held.pop(job.id, None)
            log.info("%s: %s moved to %s", self.channel, job.chat, failure.moved_to)
            return Outcome(
                job.id,
                "pending",
                str(failure)[:500],
                tries=job.tries,
                chat=failure.moved_to,
                moved_from=job.chat,
            )
        if failure.retry_after is not None:
            self.pacer.hold(now + failure.retry_after)  # a flood limit holds the whole channel
            self.stats.holds[self.channel] += 1
            self._probing = True
            log.warning("%s: told to wait %.0fs", self.channel, failure.retry_after)
        decision = self.policy.decide(
            failure,
            tries=job.attempts + job.tries,
            age=self.store.now() - job.created_at,
            bulk=job.bulk,
        )
        if decision.status != "retry":
            return self._final(job, decision.status, str(failure))
        job.plain |= decision.plain
        job.fresh |= decision.fresh
        if decision.wait <= IN_MEMORY_WAIT and self.leader:
            job.not_before = now + decision.wait
            self.queues.add(job)  # its chat is busy until the send returns, then rescheduled
            return None
        # A long wait: the row goes back to the database, due again after the wait.
        self.held.pop(job.id, None)
        log.info(
            "%s: message %s retried in %.0fs (%s)", self.channel, job.id, decision.wait, failure
        )
        return Outcome(
            job.id,
            "pending",
            str(failure)[:500],
            tries=job.tries,
            next_attempt_at=self.store.now() + timedelta(seconds=decision.wait),
        )

    # ---- stopping -----------------------------------------------------------------------------

    async def stop(self, grace: float) -> tuple[list[int], list[Job]]:
        """Stop starting sends and let those in flight finish (up to `grace`). Returns the
        rows held but not under way (to hand back) and those cut off mid-call."""
        self.stopping = True
        self.wake.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        cut = list(self._sending.values())
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        cut_ids = {job.id for job in cut}
        return [i for i in self.held if i not in cut_ids], cut

    def extra_slot(self, now: float) -> float:
        """When a call outside the outbox (a button's answer) may go; 0 books it now."""
        at = self.pacer.earliest(now)
        if at <= now:
            self.pacer.record(None, now)
            return 0.0
        return at - now


def job_of(row: StoredMessage) -> Job:
    return Job(
        id=row.id,
        chat=row.chat,
        text=row.text or "",
        payload=row.payload,
        bulk=row.bulk,
        priority=row.priority,
        created_at=row.created_at,
        attempts=row.attempts,
        launched=row.status == "sending",
    )
