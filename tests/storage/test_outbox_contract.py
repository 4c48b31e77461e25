"""The outbox store contract, the same tests on every store (in memory, SQLite, PostgreSQL):
claims under a lease in delivery order, outcomes, moved chats, lease expiry after a crash,
two claimers, the per-channel lease and renewals. The in-memory store is the reference the
delivery engine's unit tests run on; these tests hold it to what the database does."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from storage.database import Database
from storage.memory_outbox import MemoryOutbox
from storage.records import Outcome
from storage.schema import messages
from storage.sql_outbox import SqlOutbox
from storage.tx import Tx
from tests.fakes.clock import FakeTime
from tests.storage.conftest import on_every_store

Store = MemoryOutbox | SqlOutbox
LEASE = timedelta(seconds=30)


def out(chat: str = "telegram:1", text: str = "hi", **extra: object) -> dict[str, object]:
    return {"channel": chat.split(":", 1)[0], "chat": chat, "text": text, "payload": {}, **extra}


async def cancel(store: Store, row_id: int) -> None:
    """What a stopped broadcast does to a queued row (not the engine's business)."""
    if isinstance(store, MemoryOutbox):
        store.rows[row_id] = replace(store.rows[row_id], status="cancelled")
        return
    async with store.db.write() as tx:
        await tx.conn.execute(
            messages.update().where(messages.c.id == row_id).values(status="cancelled")
        )


@on_every_store
async def test_rows_keep_their_order_and_can_arrive_claimed(store: Store, clock: FakeTime) -> None:
    ids = await store.add(
        [
            out(text="a"),
            out(text="b", status="sending", lease_owner="me", lease_until=clock() + LEASE),
            out(text="c", bulk=True, priority=5),
        ]
    )
    rows = await store.get_many(ids)
    assert [r.text for r in rows] == ["a", "b", "c"]
    assert [r.status for r in rows] == ["pending", "sending", "pending"]
    assert rows[1].lease_owner == "me" and rows[2].bulk and rows[2].priority == 5
    assert await store.owners() == {"me"}


@on_every_store
async def test_claims_follow_delivery_order_and_skip_rows_not_yet_due(
    store: Store, clock: FakeTime
) -> None:
    later = clock() + timedelta(minutes=1)
    ids = await store.add(
        [
            out(text="bulk routine", bulk=True, priority=0),
            out(text="bulk alert", bulk=True, priority=9),
            out(text="reply 1"),
            out(text="later", next_attempt_at=later),
            out(text="reply 2"),
            out(chat="console:x", text="other channel"),
        ]
    )
    first, due = await store.claim("telegram", owner="w1", until=clock() + LEASE, limit=3)
    assert due is None, "a full batch: more may be waiting, no need to say when"
    second, due = await store.claim("telegram", owner="w1", until=clock() + LEASE, limit=10)
    assert due == later, "only the row waiting out its retry is left"
    assert [r.text for r in first] == ["reply 1", "reply 2", "bulk alert"]
    assert [r.text for r in second] == ["bulk routine"]
    assert all(r.lease_owner == "w1" for r in first + second)
    assert [r.status for r in first + second] == ["sending", "sending", "queued", "queued"], (
        "bulk rows wait as queued until they are about to be tried"
    )
    clock.advance(minutes=2)
    [row], _ = await store.claim("telegram", owner="w1", until=clock(), limit=10)
    assert row.id == ids[3]
    assert await store.claim("telegram", owner="w1", until=clock(), limit=9) == ([], None)


@on_every_store
async def test_claim_can_be_limited_to_some_chats(store: Store, clock: FakeTime) -> None:
    await store.add([out("console:alice", "for alice"), out("console:bob", "for bob")])
    rows, due = await store.claim(
        "console", owner="a", until=clock() + LEASE, limit=10, chats=["console:alice"]
    )
    assert [r.text for r in rows] == ["for alice"]
    assert due is None, "bob's row is someone else's business"


@on_every_store
async def test_outcomes_are_written_only_for_our_own_rows(store: Store, clock: FakeTime) -> None:
    await store.add([out(text=str(i)) for i in range(4)])
    mine, _ = await store.claim("telegram", owner="me", until=clock() + LEASE, limit=3)
    theirs, _ = await store.claim("telegram", owner="them", until=clock() + LEASE, limit=3)
    await store.finish(
        "me",
        [
            Outcome(mine[0].id, "sent", platform_id="71", tries=1),
            Outcome(mine[1].id, "blocked", "Forbidden", tries=1, chat="telegram:1"),
            Outcome(
                mine[2].id,
                "pending",
                "retry after 5",
                tries=2,
                next_attempt_at=clock() + timedelta(seconds=5),
            ),
            Outcome(theirs[0].id, "sent", tries=1),  # not ours: left alone
        ],
    )
    rows = await store.get_many([r.id for r in mine + theirs])
    assert [(r.status, r.attempts) for r in rows] == [
        ("sent", 1),
        ("blocked", 1),
        ("pending", 2),
        ("sending", 0),
    ]
    assert rows[0].platform_id == "71" and rows[0].lease_owner is None
    assert rows[1].error == "Forbidden" and rows[1].chat == "telegram:1"
    assert rows[2].next_attempt_at == clock() + timedelta(seconds=5)


@on_every_store
async def test_a_moved_chat_takes_its_waiting_rows_along(store: Store, clock: FakeTime) -> None:
    ids = await store.add([out("telegram:-1", "first"), out("telegram:-1", "second")])
    [first], _ = await store.claim("telegram", owner="me", until=clock() + LEASE, limit=1)
    moved = Outcome(
        first.id, "pending", "moved", tries=1, chat="telegram:-100", moved_from="telegram:-1"
    )
    await store.finish("me", [moved])
    rows = await store.get_many(ids)
    assert [(r.chat, r.status, r.attempts) for r in rows] == [
        ("telegram:-100", "pending", 1),
        ("telegram:-100", "pending", 0),
    ]


@on_every_store
async def test_expired_leases_requeue_replies_and_make_bulk_ambiguous(
    store: Store, clock: FakeTime
) -> None:
    await store.add(
        [out(text="reply"), out(text="bulk", bulk=True), out(text="bulk untried", bulk=True)]
    )
    dead, _ = await store.claim("telegram", owner="dead", until=clock(), limit=3)
    assert await store.mark_sending("dead", [dead[1].id]) == {dead[1].id}  # about to leave
    await store.add([out(text="fresh reply")])
    live, _ = await store.claim("telegram", owner="live", until=clock() + LEASE, limit=1)
    clock.advance(seconds=1)
    assert await store.expire("telegram") == (2, 1)
    assert await store.expire("telegram") == (0, 0)
    rows = {r.text: r for r in await store.get_many([r.id for r in dead + live])}
    assert rows["reply"].status == "pending", "a doubled answer beats silence"
    assert rows["bulk"].status == "ambiguous", "bulk is never resent automatically"
    assert rows["bulk untried"].status == "pending", "never tried: safe to send"
    assert rows["fresh reply"].status == "sending", "a live lease is never touched"
    assert await store.expire("telegram", dead=["live"], keep="live") == (0, 0), "our own"
    assert await store.expire("telegram", dead=["live"]) == (1, 0), "a dead owner's at once"


@on_every_store
async def test_renew_keeps_rows_writes_what_was_left_and_takes_leases(
    store: Store, clock: FakeTime
) -> None:
    await store.add([out(text="a"), out(text="b"), out(text="c")])
    rows, _ = await store.claim("telegram", owner="me", until=clock(), limit=3)
    held = await store.renew(
        "me",
        clock() + LEASE,
        unwritten=[Outcome(rows[2].id, "sent", tries=1)],
        leases=["delivery:telegram"],
    )
    assert held == {"delivery:telegram"}
    clock.advance(seconds=5)
    assert await store.expire("telegram") == (0, 0), "renewed: not cut off"
    assert await store.owners() == {"me"}
    assert await store.release("me", [rows[0].id]) == 1
    assert await store.release("me", leases=["delivery:telegram"]) == 1
    again = await store.get_many([r.id for r in rows])
    assert [r.status for r in again] == ["pending", "pending", "sent"]
    assert await store.owners() == set()


@on_every_store
async def test_two_claimers_at_once_never_get_the_same_row(store: Store, clock: FakeTime) -> None:
    await store.add([out(f"telegram:{i}", str(i)) for i in range(200)])

    async def claimer(owner: str) -> list[int]:
        got: list[int] = []
        while True:
            rows, _ = await store.claim("telegram", owner=owner, until=clock() + LEASE, limit=7)
            if not rows:
                return got
            got += [r.id for r in rows]
            await asyncio.sleep(0)

    a, b = await asyncio.gather(claimer("a"), claimer("b"))
    assert not set(a) & set(b)
    assert len(a) + len(b) == 200


@on_every_store
async def test_the_channel_lease_has_one_holder(store: Store, clock: FakeTime) -> None:
    name = ["delivery:telegram"]
    assert await store.renew("a", clock() + LEASE, leases=name) == {"delivery:telegram"}
    assert await store.renew("b", clock() + LEASE, leases=name) == set()
    assert await store.renew("a", clock() + LEASE, leases=name) == set(name), "renewed"
    assert await store.renew("b", clock(), leases=name, dead=["a"]) == set(name), "a is dead"
    assert await store.owners() == {"b"}
    clock.advance(seconds=1)
    assert await store.renew("c", clock() + LEASE, leases=name) == set(name), "ran out"
    await store.release("b", leases=name)  # not the holder: no effect
    assert await store.owners() == {"c"}
    await store.release("c", leases=name)
    assert await store.owners() == set()


@on_every_store
async def test_mark_sending_returns_only_rows_still_queued_for_us(
    store: Store, clock: FakeTime
) -> None:
    ids = await store.add([out(f"telegram:{i}", bulk=True) for i in (1, 2)])
    rows, _ = await store.claim("telegram", owner="me", until=clock() + LEASE, limit=10)
    assert {r.id for r in rows} == set(ids) and {r.status for r in rows} == {"queued"}
    await cancel(store, ids[1])  # a stopped broadcast cancels one of them while it queues
    assert await store.mark_sending("them", ids) == set(), "not theirs"
    assert await store.mark_sending("me", ids) == {ids[0]}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_work_handed_to_finish_commits_with_the_outcomes(
    db: Database, clock: FakeTime
) -> None:
    """Only the database runs hooks (a relay's failure noted on its ticket, say): they share
    the outcomes' transaction, so one never lands without the other."""
    store = SqlOutbox(db)
    [row_id] = await store.add([out(text="relay")])
    await store.claim("telegram", owner="me", until=clock() + LEASE, limit=1)

    async def failing(tx: Tx) -> None:
        await tx.messages.add_outbound_many([out(text="notice")])
        raise RuntimeError("the hook failed")

    with pytest.raises(RuntimeError):
        await store.finish("me", [Outcome(row_id, "failed", "gone", tries=1)], failing)
    [row] = await store.get_many([row_id])
    assert row.status == "sending", "rolled back together"

    async def notice(tx: Tx) -> None:
        await tx.messages.add_outbound_many([out(text="notice")])

    await store.finish("me", [Outcome(row_id, "failed", "gone", tries=1)], notice)
    rows = await store.get_many(range(row_id, row_id + 3))  # PostgreSQL spent an id
    assert [(r.text, r.status) for r in rows] == [("relay", "failed"), ("notice", "pending")]
