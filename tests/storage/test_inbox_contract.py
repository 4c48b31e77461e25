"""The inbox side of the message archive on every backend: batch recording with dedupe, and
taking over events a dead process left unhandled."""

from __future__ import annotations

from datetime import timedelta

from storage.database import Database
from storage.memory_inbox import MemoryInbox
from storage.sql_inbox import SqlInbox
from tests.fakes.clock import FakeTime
from tests.storage.conftest import on_every_store

Inbox = MemoryInbox | SqlInbox

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


@on_every_store
async def test_unhandled_inbound_is_taken_over_only_after_its_lease(
    inbox: Inbox, clock: FakeTime
) -> None:
    ids = await inbox.record(
        [
            {**inbound("u:1"), "lease_owner": "old", "lease_until": clock(), "attempts": 1},
            {**inbound("u:2"), "lease_owner": "live", "lease_until": clock() + LEASE},
            {**inbound("u:3"), "lease_owner": None, "lease_until": None},  # before leases
            {**inbound("u:4", chat="console:x"), "lease_owner": None, "lease_until": None},
        ]
    )
    clock.advance(seconds=1)
    taken = await inbox.take_over(
        owner="new", until=clock() + LEASE, channels=["telegram"], chats=[]
    )
    assert await inbox.take_over(owner="x", until=clock(), channels=["telegram"]) == []
    assert [(r.id, r.attempts, r.lease_owner) for r in taken] == [
        (ids[0], 1, "new"),
        (ids[2], 0, "new"),
    ], "taking over counts nothing: only a handling attempt that starts does"
    [dead] = await inbox.take_over(owner="y", until=clock() + LEASE, dead=["live"], limit=1)
    assert dead.id == ids[1], "a dead owner's event at once, whatever its lease"


@on_every_store
async def test_an_event_that_keeps_crashing_is_set_aside(inbox: Inbox, clock: FakeTime) -> None:
    [event] = await inbox.record([{**inbound("u:9"), "lease_owner": None, "lease_until": None}])
    assert event is not None
    counts = [await inbox.count_attempt(event, max_tries=2, error="crashed") for _ in range(3)]
    assert counts == [1, 2, 3]
    [row] = await inbox.get_many([event])
    assert row.status == "failed" and row.error == "crashed"


async def test_handled_rows_give_up_their_lease(db: Database, clock: FakeTime) -> None:
    async with db.write() as tx:
        ids = await tx.messages.record_many(
            [{**inbound(f"h:{i}"), "lease_owner": "me", "lease_until": clock()} for i in (1, 2)]
        )
        await tx.messages.mark_handled_many([(ids[0], None), (ids[1], None)])  # type: ignore[list-item]
        rows = await tx.messages.get_many(ids)  # type: ignore[arg-type]
    assert [(r.status, r.lease_owner) for r in rows] == [("handled", None), ("handled", None)]
