"""The outbox and inbox contract on every backend: batch writes, claims under a lease, lease
expiry after a crash, two claimers, and the per-channel lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.database import Database
from storage.schema import messages
from tests.storage.conftest import FakeClock

LEASE = timedelta(seconds=30)


def out(chat: str = "telegram:1", text: str = "hi", **extra: object) -> dict[str, object]:
    return {"channel": chat.split(":", 1)[0], "chat": chat, "text": text, "payload": {}, **extra}


def inbound(key: str | None, chat: str = "telegram:1", text: str = "hi") -> dict[str, object]:
    return {
        "channel": chat.split(":", 1)[0],
        "chat": chat,
        "sender": chat,
        "kind": "text",
        "text": text,
        "payload": {"text": text},
        "dedupe_key": key,
    }


async def test_record_many_dedupes_within_and_across_batches(db: Database) -> None:
    async with db.write() as tx:
        first = await tx.messages.record_many([inbound("u:1"), inbound(None), inbound("u:2")])
        again = await tx.messages.record_many(
            [inbound("u:2"), inbound("u:3"), inbound("u:3"), inbound(None)]
        )
    assert all(isinstance(i, int) for i in first)
    assert again[0] is None and again[2] is None, "seen before, and twice in one batch"
    assert isinstance(again[1], int) and isinstance(again[3], int)
    assert len({*first, again[1], again[3]}) == 5
    async with db.read() as tx:
        assert await tx.messages.count(direction="in") == 5
        row = await tx.messages.get(again[1])  # type: ignore[arg-type]
    assert row is not None and row.dedupe_key == "u:3" and row.status == "received"


async def test_add_outbound_many_keeps_order_and_can_arrive_claimed(
    db: Database, clock: FakeClock
) -> None:
    async with db.write() as tx:
        ids = await tx.messages.add_outbound_many(
            [
                out(text="a"),
                out(text="b", status="sending", lease_owner="me", lease_until=clock.now + LEASE),
                out(text="c", bulk=True, priority=5),
            ]
        )
        rows = await tx.messages.get_many(ids)
    assert [r.text for r in rows] == ["a", "b", "c"]
    assert [r.status for r in rows] == ["pending", "sending", "pending"]
    assert rows[1].lease_owner == "me" and rows[2].bulk and rows[2].priority == 5


async def test_claims_follow_delivery_order_and_skip_rows_not_yet_due(
    db: Database, clock: FakeClock
) -> None:
    async with db.write() as tx:
        ids = await tx.messages.add_outbound_many(
            [
                out(text="bulk routine", bulk=True, priority=0),
                out(text="bulk alert", bulk=True, priority=9),
                out(text="reply 1"),
                out(text="later", next_attempt_at=clock.now + timedelta(minutes=1)),
                out(text="reply 2"),
                out(chat="console:x", text="other channel"),
            ]
        )
    async with db.write() as tx:
        first = await tx.messages.claim(
            "telegram", owner="w1", lease_until=clock.now + LEASE, limit=3
        )
        second = await tx.messages.claim(
            "telegram", owner="w1", lease_until=clock.now + LEASE, limit=10
        )
    assert [r.text for r in first] == ["reply 1", "reply 2", "bulk alert"]
    assert [r.text for r in second] == ["bulk routine"]
    assert all(r.lease_owner == "w1" for r in first + second)
    assert [r.status for r in first + second] == ["sending", "sending", "queued", "queued"], (
        "bulk rows wait as queued until they are about to be tried"
    )
    clock.advance(minutes=2)
    async with db.write() as tx:
        [due] = await tx.messages.claim("telegram", owner="w1", lease_until=clock.now, limit=10)
        assert due.id == ids[3]
        assert await tx.messages.claim("telegram", owner="w1", lease_until=clock.now, limit=9) == []


async def test_claim_can_be_limited_to_some_chats(db: Database, clock: FakeClock) -> None:
    async with db.write() as tx:
        await tx.messages.add_outbound_many(
            [out("console:alice", "for alice"), out("console:bob", "for bob")]
        )
        rows = await tx.messages.claim(
            "console", owner="a", lease_until=clock.now + LEASE, limit=10, chats=["console:alice"]
        )
    assert [r.text for r in rows] == ["for alice"]


async def test_outcomes_are_written_in_one_batch_only_for_our_own_rows(
    db: Database, clock: FakeClock
) -> None:
    async with db.write() as tx:
        await tx.messages.add_outbound_many([out(text=str(i)) for i in range(4)])
        mine = await tx.messages.claim(
            "telegram", owner="me", lease_until=clock.now + LEASE, limit=3
        )
        theirs = await tx.messages.claim(
            "telegram", owner="them", lease_until=clock.now + LEASE, limit=3
        )
    outcomes = [
        {"id": mine[0].id, "status": "sent", "platform_id": "71", "tries": 1},
        {"id": mine[1].id, "status": "blocked", "error": "Forbidden", "tries": 1},
        {
            "id": mine[2].id,
            "status": "pending",
            "error": "retry after 5",
            "tries": 2,
            "next_attempt_at": clock.now + timedelta(seconds=5),
        },
        {"id": theirs[0].id, "status": "sent", "tries": 1},  # not ours: left alone
    ]
    async with db.write() as tx:
        await tx.messages.finish_many("me", outcomes)
        rows = await tx.messages.get_many([r.id for r in mine + theirs])
    assert [(r.status, r.attempts) for r in rows] == [
        ("sent", 1),
        ("blocked", 1),
        ("pending", 2),
        ("sending", 0),
    ]
    assert rows[0].platform_id == "71" and rows[0].lease_owner is None
    assert rows[2].next_attempt_at == clock.now + timedelta(seconds=5)


async def test_expired_leases_requeue_replies_and_make_bulk_ambiguous(
    db: Database, clock: FakeClock
) -> None:
    async with db.write() as tx:
        await tx.messages.add_outbound_many(
            [out(text="reply"), out(text="bulk", bulk=True), out(text="bulk untried", bulk=True)]
        )
        dead = await tx.messages.claim("telegram", owner="dead", lease_until=clock.now, limit=3)
        await tx.messages.mark_sending("dead", [dead[1].id])  # its call was about to leave
        await tx.messages.add_outbound_many([out(text="fresh reply")])
        live = await tx.messages.claim(
            "telegram", owner="live", lease_until=clock.now + LEASE, limit=1
        )
    clock.advance(seconds=1)
    async with db.write() as tx:
        assert await tx.messages.expire_sending(channel="telegram") == (2, 1)
        assert await tx.messages.expire_sending(channel="telegram") == (0, 0)
        rows = {r.text: r for r in await tx.messages.get_many([r.id for r in dead + live])}
    assert rows["reply"].status == "pending", "a doubled answer beats silence"
    assert rows["bulk"].status == "ambiguous", "bulk is never resent automatically"
    assert rows["bulk untried"].status == "pending", "never tried: safe to send"
    assert rows["fresh reply"].status == "sending", "a live lease is never touched"
    async with db.write() as tx:  # an owner known to be dead loses its rows at once
        assert await tx.messages.expire_sending(channel="telegram", dead=["live"]) == (1, 0)


async def test_renew_keeps_rows_and_release_hands_them_back(db: Database, clock: FakeClock) -> None:
    async with db.write() as tx:
        await tx.messages.add_outbound_many([out(text="a"), out(text="b")])
        rows = await tx.messages.claim("telegram", owner="me", lease_until=clock.now, limit=2)
        assert await tx.messages.renew_leases("me", clock.now + LEASE) == 2
    clock.advance(seconds=5)
    async with db.write() as tx:
        assert await tx.messages.expire_sending(channel="telegram") == (0, 0)
        assert await tx.messages.release("me", [rows[0].id]) == 1
        assert await tx.messages.release("me") == 1
        again = await tx.messages.get_many([r.id for r in rows])
    assert [r.status for r in again] == ["pending", "pending"]


async def test_two_claimers_at_once_never_get_the_same_row(db: Database, clock: FakeClock) -> None:
    async with db.write() as tx:
        await tx.messages.add_outbound_many([out(f"telegram:{i}", str(i)) for i in range(200)])

    async def claimer(owner: str) -> list[int]:
        got: list[int] = []
        while True:
            async with db.write() as tx:
                rows = await tx.messages.claim(
                    "telegram", owner=owner, lease_until=clock.now + LEASE, limit=7
                )
            if not rows:
                return got
            got += [r.id for r in rows]
            await asyncio.sleep(0)

    a, b = await asyncio.gather(claimer("a"), claimer("b"))
    assert not set(a) & set(b)
    assert len(a) + len(b) == 200


async def test_unhandled_inbound_is_taken_over_only_after_its_lease(
    db: Database, clock: FakeClock
) -> None:
    async with db.write() as tx:
        ids = await tx.messages.record_many(
            [
                {**inbound("u:1"), "lease_owner": "old", "lease_until": clock.now, "attempts": 1},
                {**inbound("u:2"), "lease_owner": "live", "lease_until": clock.now + LEASE},
                inbound("u:3"),  # recorded before leases existed
            ]
        )
    clock.advance(seconds=1)
    async with db.write() as tx:
        taken = await tx.messages.take_over_received(owner="new", lease_until=clock.now + LEASE)
        assert await tx.messages.take_over_received(owner="x", lease_until=clock.now) == []
    assert [(r.id, r.attempts, r.lease_owner) for r in taken] == [
        (ids[0], 1, "new"),
        (ids[2], 0, "new"),
    ], "taking over counts nothing: only a handling attempt that starts does"
    async with db.write() as tx:
        assert await tx.messages.count_attempt(ids[0]) == 2
    async with db.write() as tx:
        await tx.messages.mark_handled_many([(ids[0], None), (ids[2], None)])
        rows = await tx.messages.get_many([ids[0], ids[2]])
    assert [(r.status, r.lease_owner) for r in rows] == [("handled", None), ("handled", None)]


async def test_the_channel_lease_has_one_holder(db: Database, clock: FakeClock) -> None:
    async with db.write() as tx:
        assert await tx.leases.acquire("delivery:telegram", "a", clock.now + LEASE)
        assert not await tx.leases.acquire("delivery:telegram", "b", clock.now + LEASE)
        assert await tx.leases.acquire("delivery:telegram", "a", clock.now + LEASE), "renewed"
        assert await tx.leases.acquire("delivery:telegram", "b", clock.now, dead=("a",))
        assert await tx.leases.holder("delivery:telegram") == "b"
    clock.advance(seconds=1)
    async with db.write() as tx:
        assert await tx.leases.acquire("delivery:telegram", "c", clock.now + LEASE), "ran out"
        await tx.leases.release("delivery:telegram", "b")  # not the holder: no effect
        assert await tx.leases.holder("delivery:telegram") == "c"
        await tx.leases.release("delivery:telegram", "c")
        assert await tx.leases.holder("delivery:telegram") is None


async def test_mark_sending_returns_only_rows_still_queued_for_us(db: Database) -> None:
    async with db.write() as tx:
        ids = await tx.messages.add_outbound_many([out(f"telegram:{i}", bulk=True) for i in (1, 2)])
    async with db.write() as tx:
        rows = await tx.messages.claim(
            "telegram", owner="me", lease_until=tx.now() + LEASE, limit=10
        )
        assert {r.id for r in rows} == set(ids) and {r.status for r in rows} == {"queued"}
        # a stopped broadcast cancels one of them while it queues
        await tx.conn.execute(
            messages.update().where(messages.c.id == ids[1]).values(status="cancelled")
        )
        assert await tx.messages.mark_sending("me", ids) == {ids[0]}
