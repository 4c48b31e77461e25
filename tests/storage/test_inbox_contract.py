"""The inbox side of the message archive on every backend: batch recording with dedupe, and
taking over events a dead process left unhandled."""

from __future__ import annotations

from datetime import timedelta

from storage.database import Database
from tests.storage.conftest import FakeClock

LEASE = timedelta(seconds=30)


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
