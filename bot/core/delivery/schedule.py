"""Which held row goes next: per chat in delivery order, one at a time, each chat no sooner
than its own limits allow; among the chats that may go, the best head row first."""

from __future__ import annotations

import heapq
from collections.abc import Callable

from bot.core.delivery.limits import Pacer
from bot.core.delivery.outbox import Job

Key = tuple[bool, int, int]


class ChatQueues:
    def __init__(self, pacer: Pacer, is_group: Callable[[str], bool], now: Callable[[], float]):
        self.pacer = pacer
        self.is_group = is_group
        self.now = now
        self._queues: dict[str, list[Job]] = {}
        self._ready: list[tuple[Key, str]] = []  # chats whose head may go now
        self._cooling: list[tuple[float, Key, str]] = []  # chats whose head may go later
        self._scheduled: set[str] = set()  # in one of the two heaps
        self._busy: set[str] = set()  # a send to the chat is under way

    def add(self, job: Job) -> None:
        """Queue a job in its chat's delivery order (a retry keeps its place)."""
        queue = self._queues.setdefault(job.chat, [])
        queue.append(job)
        queue.sort(key=lambda j: j.key)
        self.schedule(job.chat)

    def schedule(self, chat: str) -> None:
        """Put `chat` where its head can be picked: ready now, or cooling until later."""
        if chat in self._busy or chat in self._scheduled:
            return
        queue = self._queues.get(chat)
        if not queue:
            self._queues.pop(chat, None)
            return
        head = queue[0]
        now = self.now()
        at = max(head.not_before, self.pacer.earliest_for(chat, now, group=self.is_group(chat)))
        self._scheduled.add(chat)
        if at <= now:
            heapq.heappush(self._ready, (head.key, chat))
        else:
            heapq.heappush(self._cooling, (at, head.key, chat))

    def promote(self, now: float) -> None:
        while self._cooling and self._cooling[0][0] <= now:
            _, key, chat = heapq.heappop(self._cooling)
            heapq.heappush(self._ready, (key, chat))

    def head(self) -> Job | None:
        """The job that would go next, if any chat may go now."""
        return self._queues[self._ready[0][1]][0] if self._ready else None

    def upcoming(self, n: int) -> list[Job]:
        """The heads of the `n` best chats that may go now."""
        return [self._queues[c][0] for _, c in heapq.nsmallest(n, self._ready)]

    def next_cooling(self) -> float | None:
        return self._cooling[0][0] if self._cooling else None

    def pop(self) -> Job:
        """Take the next job; its chat is busy until `done` is called for it."""
        _, chat = heapq.heappop(self._ready)
        self._scheduled.discard(chat)
        queue = self._queues[chat]
        job = queue.pop(0)
        if not queue:
            del self._queues[chat]
        self._busy.add(chat)
        return job

    def done(self, chat: str) -> None:
        """The send to `chat` came back: its next job may be scheduled."""
        self._busy.discard(chat)
        self.schedule(chat)

    def clear(self) -> None:
        """Forget every queued job (those under way keep their chats busy until done)."""
        self._queues.clear()
        self._ready.clear()
        self._cooling.clear()
        self._scheduled.clear()
