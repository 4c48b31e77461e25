"""The inbox: record every inbound event first (`bot.core.recorder`), then handle it exactly
once, in order.

Handling is one loop per process, so events keep their order: it takes up to `BATCH`
recorded events at a time and handles them in one transaction, each inside its own
savepoint, so a failing handler rolls back alone. Replies are written in the same
transaction and handed straight to the delivery engine after the commit; rows a handler
wrote for other chats (a broadcast started from the chat) wake its workers then too.

Every recorded row carries this process's lease; a row still `received` when its lease runs
out (the process died) is taken over by another process or the next start. A taken-over
event is handled alone, its attempt committed first: an event whose handling killed the
process `MAX_TRIES` times is quarantined, and nothing that merely waited in the queue of a
dying process is ever charged for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.core import log_context
from bot.core.delivery import Delivery
from bot.core.dispatcher import Dispatcher
from bot.core.failures import log_failure
from bot.core.i18n import Translator
from bot.core.inbox_store import InboxStore
from bot.core.middlewares import Policy
from bot.core.owner import Tenure
from bot.core.recorder import Recorder
from bot.core.types import Inbound, Outbound
from storage.database import Database, DatabaseUnavailable, unavailable
from storage.tx import Tx

log = logging.getLogger(__name__)

BATCH = 100
MAX_QUEUED = 5_000  # recorded but not yet handled, before receiving waits (backpressure)
MAX_TRIES = 3  # handling attempts after crashes before an event is quarantined
HANDLER_TIMEOUT = 30.0
RECOVERY_SECONDS = 30.0


@dataclass(slots=True)
class Work:
    message_id: int
    event: Inbound
    done: asyncio.Future[list[int]] | None = field(default=None)
    recovered: bool = False  # taken over from a process that died: handled alone, counted


class Inbox:
    def __init__(
        self,
        db: Database,
        dispatcher: Dispatcher,
        delivery: Delivery,
        *,
        policy: Policy,
        translator: Translator,
        leases: InboxStore,
        tenure: Tenure,
        services: dict[str, Any] | None = None,
        prepare: Callable[[Sequence[Inbound]], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.delivery = delivery
        self.leases = leases  # taking over what a dead process left, counting its attempts
        self.policy = policy
        self.services = dict(services or {})  # injected into handlers by parameter name
        # Slow, read-only work for a batch (embedding its questions) done before its write
        # transaction opens, so the transaction never waits on it.
        self.prepare = prepare
        self.translator = translator.with_lang(policy.default_language)
        self.tenure = tenure  # the leases events are recorded and taken over under
        self.stats = delivery.stats  # one set of counts per app, for /metrics
        self.recorder = Recorder(db, tenure, self.stats)
        self._queue: deque[Work] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._stopping = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.recovered = asyncio.Event()  # the first take-over pass after start is done
        self._room = asyncio.Event()
        self._room.set()

    async def record(self, event: Inbound, raw: dict[str, Any] | None = None) -> int | None:
        """See `Recorder.record`."""
        return await self.recorder.record(event, raw)

    async def record_many(
        self, items: Sequence[tuple[Inbound, dict[str, Any] | None]]
    ) -> list[int | Exception | None]:
        """See `Recorder.record_many`."""
        return await self.recorder.record_many(items)

    # ---- handling -----------------------------------------------------------------------------

    def submit(
        self, message_id: int, event: Inbound, *, recovered: bool = False
    ) -> asyncio.Future[list[int]]:
        """Queue a recorded event; the future gives the ids of its replies once committed."""
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue.append(Work(message_id, event, done, recovered))
        self.idle.clear()
        self._wake.set()
        if len(self._queue) >= MAX_QUEUED:
            self._room.clear()
        return done

    async def room(self) -> None:
        """Wait while the queue is full: a channel stops taking in more (Telegram keeps the
        updates, or waits for the webhook's answer) until handling catches up."""
        await self._room.wait()

    async def receive(self, event: Inbound) -> tuple[int, list[int]] | None:
        """Record and handle one event, waiting for it: (archive id, reply ids), or None
        for a redelivery."""
        message_id = await self.record(event)
        if message_id is None:
            log.info("dropped redelivery %s", event.dedupe_key)
            return None
        if self._task is None:  # not started: handle inline (scripts, tests)
            replies = await self._handle([Work(message_id, event)])
            return message_id, replies[0]
        return message_id, await self.submit(message_id, event)

    def start(self) -> None:
        """Start handling; events a dead process left unhandled are taken over in the
        background (only those of the chats this process serves)."""
        self._task = asyncio.create_task(self._run(), name="inbox")
        self._recovery = asyncio.create_task(self._recover_forever(), name="inbox-recovery")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the batch under way (up to `grace`); queued events stay recorded and are
        handled at the next start."""
        self._stopping = True
        self._wake.set()
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for work in self._queue:
            if work.done is not None and not work.done.done():
                work.done.cancel()
        self._queue.clear()
        self._room.set()
        await self.recorder.drained()

    async def _run(self) -> None:
        while not self._stopping:
            if not self._queue:
                self.idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._next_batch()
            if len(self._queue) < MAX_QUEUED // 2:
                self._room.set()
            if batch[0].recovered:
                replies = [await self._handle_recovered(batch[0])]
            else:
                await self._prepare(batch)
                try:
                    replies = await self._handle(batch)
                except DatabaseUnavailable:  # each would fail alike: all again later
                    for work in batch:
                        self._retry_later(work)
                    replies = [[] for _ in batch]
                except Exception:
                    log.exception("a batch of %d failed; handling them one by one", len(batch))
                    replies = [await self._handle_alone(work) for work in batch]
            for work, ids in zip(batch, replies, strict=True):
                if work.done is not None and not work.done.done():
                    work.done.set_result(ids)

    async def _prepare(self, batch: Sequence[Work]) -> None:
        if self.prepare is None:
            return
        try:
            await self.prepare([work.event for work in batch])
        except Exception as exc:
            log_failure(log, exc, "preparing a batch of %d failed; handling it anyway", len(batch))

    def _next_batch(self) -> list[Work]:
        """Up to BATCH fresh events in order, or one recovered event on its own."""
        if self._queue[0].recovered:
            return [self._queue.popleft()]
        batch: list[Work] = []
        while self._queue and len(batch) < BATCH and not self._queue[0].recovered:
            batch.append(self._queue.popleft())
        return batch

    async def _handle_recovered(self, work: Work) -> list[int]:
        """Count the attempt (committed), then handle; past MAX_TRIES keep it aside instead."""
        try:
            attempts = await self.leases.count_attempt(
                work.message_id,
                max_tries=MAX_TRIES,
                error=f"gave up after {MAX_TRIES} handling attempts ended in a crash",
            )
        except Exception as exc:
            log_failure(log, exc, "counting an attempt of message %s failed", work.message_id)
            self._retry_later(work)
            return []
        if attempts > MAX_TRIES:
            log.error(
                "message %s quarantined: %d attempts ended in a crash", work.message_id, MAX_TRIES
            )
            return []
        return await self._handle_alone(work)

    async def _handle_alone(self, work: Work) -> list[int]:
        try:
            return (await self._handle([work]))[0]
        except Exception as exc:
            log_failure(log, exc, "handling message %s failed; it stays recorded", work.message_id)
            self._retry_later(work)
            return []

    def _retry_later(self, work: Work, delay: float = 5.0) -> None:
        """The database failed us: try the event again later (the row keeps our lease)."""
        loop = asyncio.get_running_loop()
        loop.call_later(delay, lambda: self._requeue(work))

    def _requeue(self, work: Work) -> None:
        if not self._stopping:
            self._queue.append(Work(work.message_id, work.event, recovered=work.recovered))
            self._wake.set()

    async def _handle(self, batch: Sequence[Work]) -> list[list[int]]:
        """Handle a batch in one transaction; returns each event's reply ids."""
        rows: list[dict[str, Any]] = []
        spans: list[tuple[int, int]] = []
        handled: list[tuple[int, int | None]] = []
        stats = self.stats
        async with self.db.write() as tx:
            for work in batch:
                start = len(rows)
                event = work.event
                about = log_context.about(event.channel, event.chat)
                began = time.perf_counter()
                try:
                    async with asyncio.timeout(HANDLER_TIMEOUT), tx.savepoint():
                        client_id, out = await self._dispatch(tx, work)
                    handled.append((work.message_id, client_id))
                except Exception as exc:
                    if unavailable(exc, sockets=False):  # not the event's fault: again later
                        raise
                    log.error("handling message %s failed", work.message_id, exc_info=exc)
                    out = await self._apologise(tx, work, exc)
                finally:
                    log_context.done(about)
                stats.handled(event.channel, time.perf_counter() - began)
                rows += out
                spans.append((start, len(rows)))
            # Rows a handler wrote for other chats (a broadcast started now, an alert):
            # asked before our replies go in, which `adopt` hands over or announces itself.
            unannounced = tx.state.unannounced
            ids = await tx.messages.add_outbound_many(rows)
            await tx.messages.mark_handled_many(handled)
        if unannounced:
            self.delivery.notify()
        self.delivery.adopt(list(zip(ids, rows, strict=True)))
        return [ids[a:b] for a, b in spans]

    async def _dispatch(self, tx: Tx, work: Work) -> tuple[int | None, list[dict[str, Any]]]:
        event = work.event
        ctx: dict[str, Any] = {
            **self.services,
            "event": event,
            "tx": tx,
            "policy": self.policy,
            "t": self.translator,
            "message_id": work.message_id,
            "capabilities": self.delivery.capabilities(event.channel),
        }
        # Edits, joins and other platform events are archived but need no answer.
        outs = [] if event.kind == "other" else await self.dispatcher.dispatch(event, ctx)
        for out in outs:
            if out.ref is not None:
                self.stats.faq_reply(out.ref)
        client = ctx.get("client")
        if client is not None and client.id in tx.state.touched:  # /lang, /deleteme
            client = await tx.clients.get(client.id)
        erased = client is not None and client.erased_at is not None
        client_id = client.id if client is not None and not erased else None
        t = ctx["t"].with_lang(client.language) if client is not None else ctx["t"]
        if erased:  # the erasure's own exchange is kept locked like the rest
            await tx.messages.lock([work.message_id])
        rows = self.delivery.render(
            outs,
            chat=event.chat,
            client_id=client_id,
            reply_to=work.message_id,
            ref_id=event.ref_id,
            t=t,  # /lang just changed it? the numbered hint follows
            locked=erased,
        )
        return client_id, rows

    async def _apologise(self, tx: Tx, work: Work, exc: BaseException) -> list[dict[str, Any]]:
        """The event stays archived as `failed` (for staff to see) and the person is told."""
        await tx.messages.set_status(work.message_id, "failed", error=repr(exc)[:1000])
        client = await tx.clients.by_address(work.event.sender)
        t = self.translator.with_lang(client.language) if client else self.translator
        return self.delivery.render(
            [Outbound(t("errors.internal"))], chat=work.event.chat, reply_to=work.message_id, t=t
        )

    # ---- recovery -----------------------------------------------------------------------------

    async def recover(self) -> int:
        """Take over events recorded but never handled by a process that is gone, oldest
        first; each is handled alone with its attempt counted (see `_handle_recovered`)."""
        channels, chats = self.delivery.scope()
        taken = 0
        while not self._stopping:
            until = self.db.clock() + timedelta(seconds=self.tenure.seconds)
            rows = await self.leases.take_over(
                owner=self.tenure.owner,
                until=until,
                dead=self.tenure.dead,
                channels=channels,
                chats=chats,
                limit=500,
            )
            for row in rows:
                self.submit(row.id, Inbound.from_payload(row.payload), recovered=True)
            taken += len(rows)
            if len(rows) < 500:
                break
        if taken:
            log.info("took over %d unhandled message(s)", taken)
        return taken

    async def _recover_forever(self) -> None:
        while not self._stopping:
            try:
                await self.recover()
            except Exception as exc:
                log_failure(log, exc, "taking over unhandled messages failed; retrying")
            self.recovered.set()
            await asyncio.sleep(RECOVERY_SECONDS)
