"""`LeaseKeeper` alone over the in-memory store: it takes and keeps the channel's lease and
says so to the worker (a method call, not a flag written from outside), hands a lost
channel's rows back, and writes outcomes a failed write left behind."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.core.delivery.keeper import LeaseKeeper
from bot.core.delivery.retry import RetryPolicy
from bot.core.delivery.worker import Worker, job_of
from bot.core.owner import Tenure
from storage.memory_outbox import MemoryOutbox
from storage.records import Outcome
from tests.fakes.clock import FakeTime, earlier_run
from tests.unit.delivery.rig import ScriptedSender, row

LEASE = 15.0
NAME = "delivery:telegram"


async def nothing(_: Outcome) -> None:
    return None


def keeper_for(
    store: MemoryOutbox, time: FakeTime, owner: str
) -> tuple[LeaseKeeper, Worker, list[Outcome]]:
    tenure = Tenure(owner, LEASE)
    worker = Worker(
        ScriptedSender(time),
        store,
        timer=time,
        policy=RetryPolicy(),
        tenure=tenure,
        poll=0.5,
        record=nothing,
        chats=None,
        lead=True,
        concurrency=4,
    )
    written: list[Outcome] = []
    keeper = LeaseKeeper(
        store, {"telegram": worker}, timer=time, tenure=tenure, written=written.append
    )
    return keeper, worker, written


def later(time: FakeTime) -> datetime:
    return time() + timedelta(hours=1)


async def test_one_holder_at_a_time_and_the_worker_is_told() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    first, first_worker, _ = keeper_for(store, time, "host:1:a:a")
    second, second_worker, _ = keeper_for(store, time, "host:2:b:b")
    assert not first_worker.leader, "a leading worker sends only once it holds the lease"
    await first.keep(expire=False)
    await second.keep(expire=False)
    assert first_worker.leader and not second_worker.leader
    assert store.leases[NAME][0] == "host:1:a:a"
    time.advance(LEASE + 1)  # the first process stopped renewing
    await second.keep(expire=False)
    assert second_worker.leader


async def test_a_lost_lease_demotes_the_worker_and_hands_its_rows_back() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    keeper, worker, _ = keeper_for(store, time, "host:1:a:a")
    await keeper.keep(expire=False)
    await store.add([row(f"telegram:{n}", f"m{n}") for n in range(3)])
    rows, _ = await store.claim("telegram", owner="host:1:a:a", until=later(time), limit=3)
    worker.take([job_of(r) for r in rows])
    await store.renew("intruder", later(time), leases=[NAME], dead=["host:1:a:a"])
    await keeper.keep(expire=False)
    assert not worker.leader and not worker.held
    back = await store.get_many([r.id for r in rows])
    assert {(r.status, r.lease_owner) for r in back} == {("pending", None)}


async def test_taking_a_dead_owners_channel_clears_what_it_left() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    dead = earlier_run()
    [row_id] = await store.add(
        [row("telegram:1", "reply", status="sending", lease_owner=dead, lease_until=later(time))]
    )
    await store.renew(dead, later(time), leases=[NAME])
    keeper, worker, _ = keeper_for(store, time, "host:1:a:a")
    keeper.tenure.dead = (dead,)
    await keeper.keep(expire=False)  # taking the lease over expires the dead owner's rows
    assert worker.leader and worker.wake.is_set(), "the worker is woken to claim them"
    [back] = await store.get_many([row_id])
    assert back.status == "pending" and back.lease_owner is None


async def test_outcomes_left_unwritten_are_written_with_the_next_renewal() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    keeper, _, written = keeper_for(store, time, "host:1:a:a")
    [row_id] = await store.add([row("telegram:1", "m")])
    await store.claim("telegram", owner="host:1:a:a", until=later(time), limit=1)
    outcome = Outcome(row_id, "sent", platform_id="9", tries=1)
    keeper.unwritten.append(outcome)

    async def broken(*_: object, **__: object) -> set[str]:
        raise OSError("database gone")

    working = store.renew
    store.renew = broken  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await keeper.keep(expire=False)
    assert keeper.unwritten == [outcome] and written == [], "kept for the next round"
    store.renew = working  # type: ignore[method-assign]
    await keeper.keep(expire=False)
    assert keeper.unwritten == [] and written == [outcome]
    [done] = await store.get_many([row_id])
    assert done.status == "sent" and done.platform_id == "9"
