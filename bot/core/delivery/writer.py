"""Writing send outcomes back: concurrent outcomes share one transaction (group commit), and
hooks that must commit with them (notices about undelivered relays, blocked chats) run in it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bot.core.batching import Batcher
from bot.core.delivery.results import Results
from bot.core.delivery.store import OutboxStore, Then
from bot.core.failures import log_failure
from bot.core.owner import Tenure
from bot.core.types import Outbound
from storage.records import Outcome
from storage.tx import Tx

log = logging.getLogger(__name__)

# Told, in the transaction that writes the outcome, of rows carrying a `ref` that could not be
# delivered (blocked, rejected, failed): returns notices for people (Outbound with `chat` set).
Undelivered = Callable[[Tx, list[Outcome]], Awaitable[list[Outbound]]]
# Told, in the same transaction, of the chats that blocked the bot.
Blocked = Callable[[Tx, list[str]], Awaitable[None]]
# Writes notices as outbox rows in the given transaction; their ids.
Enqueue = Callable[[Tx, Iterable[Outbound]], Awaitable[list[int]]]

UNDELIVERED = frozenset({"blocked", "failed"})


class OutcomeWriter:
    def __init__(
        self,
        store: OutboxStore,
        tenure: Tenure,
        results: Results,
        *,
        enqueue: Enqueue,
        notify: Callable[[], None],
        unwritten: Callable[[Outcome], None],
    ) -> None:
        self.store = store
        self.tenure = tenure
        self.results = results
        self.enqueue = enqueue
        self.notify = notify  # rows were written for the workers (notices, a moved chat's)
        self.unwritten = unwritten  # an outcome to write later (the lease keeper retries it)
        self.undelivered: list[Undelivered] = []
        self.blocked: list[Blocked] = []
        self._batcher: Batcher[Outcome, None] = Batcher(self._write, max_batch=1000)

    async def record(self, outcome: Outcome) -> None:
        """Write one send's outcome; concurrent outcomes share a transaction."""
        try:
            await self._batcher.submit(outcome)
        except Exception as exc:
            log_failure(
                log, exc, "could not record the outcome of message %s; retrying", outcome.id
            )
            self.unwritten(outcome)
            return
        self.results.finished(outcome)

    async def drained(self) -> None:
        await self._batcher.drained()

    async def _write(self, outcomes: Sequence[Outcome]) -> list[None]:
        missed = [o for o in outcomes if o.ref and o.status in UNDELIVERED]
        blocked = sorted({o.chat for o in outcomes if o.status == "blocked" and o.chat})
        notices: list[int] = []

        async def hooks(tx: Tx) -> None:
            for on_blocked in self.blocked if blocked else ():
                await on_blocked(tx, blocked)
            for hook in self.undelivered if missed else ():
                notices.extend(await self.enqueue(tx, await hook(tx, missed)))

        # Only a store with transactions runs hooks; none are called for when none apply.
        wanted = (missed and self.undelivered) or (blocked and self.blocked)
        then: Then | None = hooks if wanted else None
        await self.store.finish(self.tenure.owner, outcomes, then)
        if notices or any(o.moved_from for o in outcomes):
            self.notify()
        return [None] * len(outcomes)
