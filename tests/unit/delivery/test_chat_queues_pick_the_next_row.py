"""`ChatQueues` alone: which held row goes next, with a pacer and a hand-moved clock."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.delivery import Limits, Pacer
from bot.core.delivery.outbox import Job
from bot.core.delivery.schedule import ChatQueues
from tests.fakes.clock import FakeTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(row_id: int, chat: str, *, bulk: bool = False, priority: int = 0) -> Job:
    return Job(row_id, chat, f"m{row_id}", {}, bulk, priority, T0)


def queues(limits: Limits | None = None) -> tuple[ChatQueues, Pacer, FakeTime]:
    pacer = Pacer(limits or Limits(rate=1000, chat_interval=1.0, margin=0.0))
    clock = FakeTime()
    return ChatQueues(pacer, lambda chat: chat.startswith("g"), clock.now), pacer, clock


def drain(q: ChatQueues) -> list[int]:
    """Take every job that may go now, as a worker would (each send comes back at once)."""
    taken: list[int] = []
    while (head := q.head()) is not None:
        assert q.pop() is head
        q.done(head.chat)
        taken.append(head.id)
    return taken


def test_replies_first_then_higher_priority_then_older() -> None:
    q, _, _ = queues()
    for j in [
        job(1, "a", bulk=True),
        job(2, "b", bulk=True, priority=9),
        job(3, "c"),
        job(4, "d", priority=5),
        job(5, "e"),
    ]:
        q.add(j)
    assert [j.id for j in q.upcoming(3)] == [4, 3, 5]
    assert drain(q) == [4, 3, 5, 2, 1]


def test_one_at_a_time_per_chat_and_in_order() -> None:
    q, _, _ = queues(Limits(margin=0.0))  # no spacing: only "one under way"
    q.add(job(2, "a"))
    q.add(job(1, "a"))  # a retry keeps its place: delivery order, not arrival order
    q.add(job(3, "b"))
    first = q.pop()
    assert first.id == 1
    assert q.head() is not None and q.head().id == 3, "a's next waits while a's send is out"  # type: ignore[union-attr]
    q.pop()
    assert q.head() is None
    q.done("a")
    assert q.head() is not None and q.head().id == 2  # type: ignore[union-attr]


def test_a_chat_cools_down_until_its_own_limit_allows() -> None:
    q, pacer, clock = queues()
    q.add(job(1, "a"))
    q.add(job(2, "a"))
    sent = q.pop()
    start = clock.now()
    pacer.record(sent.chat, start)
    q.done("a")
    assert q.head() is None and q.next_cooling() == start + 1.0, "one a second to one chat"
    clock.advance(0.999)
    q.promote(clock.now())
    assert q.head() is None
    clock.advance(0.001)
    assert clock.now() == start + 1.0
    q.promote(clock.now())
    assert q.head() is not None and q.head().id == 2  # type: ignore[union-attr]


def test_clear_forgets_queued_jobs_but_a_busy_chat_stays_busy() -> None:
    q, _, _ = queues()
    q.add(job(1, "a"))
    q.add(job(2, "a"))
    q.add(job(3, "b"))
    q.pop()  # a's send is under way
    q.clear()
    assert q.head() is None and q.next_cooling() is None
    q.add(job(4, "a"))
    assert q.head() is None, "a is still busy"
    q.done("a")
    assert q.head() is not None and q.head().id == 4  # type: ignore[union-attr]
