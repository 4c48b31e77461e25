"""Broadcast rows on every backend: one per (broadcast, recipient, part) from one INSERT …
SELECT, audiences by topic and segment, one start under two starters, stop, finish."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.database import Database
from storage.repos.broadcasts import Broadcast
from storage.schema import messages as m

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def clients(db: Database, n: int) -> None:
    async with db.write() as tx:
        for i in range(n):
            client, _ = await tx.clients.get_or_create(
                f"telegram:{100 + i}", language="en" if i % 4 == 0 else "zh",
                display_name=None, username=None,
            )  # fmt: skip
            if i % 2 == 0:
                await tx.subscriptions.subscribe(
                    client.id, "morning", channel="telegram", actor="t"
                )
            if i % 3 == 0:
                await tx.files.set(client.id, tier="vip")
        await tx.clients.get_or_create(
            "wechat:w100", language="zh", display_name=None, username=None
        )


async def scheduled(db: Database, audience: dict[str, object], parts: int = 1) -> Broadcast:
    async with db.write() as tx:
        return await tx.broadcasts.create(
            author="console:local",
            kind="broadcast",
            audience=audience,
            text="早盘",
            final={
                "zh": [f"早盘{i}" for i in range(parts)],
                "en": [f"morning{i}" for i in range(parts)],
            },
            priority=0,
            status="scheduled",
            send_at=tx.now(),
        )


async def test_rows_per_recipient_language_and_part_and_one_start(db: Database) -> None:
    await clients(db, 12)
    broadcast = await scheduled(db, {"topics": ["morning"]}, parts=2)

    async def start() -> int:
        async with db.write() as tx:
            return await tx.broadcasts.start(broadcast)

    assert sorted(await asyncio.gather(start(), start())) == [0, 6]
    async with db.read() as tx:
        counts = await tx.broadcasts.counts(broadcast.id)
        fresh = await tx.broadcasts.get(broadcast.id)
        english = [m.text for m in await tx.messages.for_chat("telegram:100")]
        chinese = [m.text for m in await tx.messages.for_chat("telegram:102")]
        unsubscribed = await tx.messages.for_chat("telegram:101")
    assert counts == {"pending": 6} and fresh is not None and fresh.recipients == 6
    assert fresh.status == "running"
    assert english == ["morning0", "morning1"] and chinese == ["早盘0", "早盘1"], "parts in order"
    assert unsubscribed == []


async def test_segments_select_by_tier_and_channel(db: Database) -> None:
    await clients(db, 12)
    async with db.read() as tx:
        assert await tx.broadcasts.audience_size({"segment": {"tier": "vip"}}) == 4
        assert await tx.broadcasts.audience_size({"segment": {"channel": "wechat"}}) == 1
        assert (
            await tx.broadcasts.audience_size({"segment": {"tier": "vip", "language": "en"}}) == 1
        )
        assert await tx.broadcasts.audience_size({"topics": ["news"]}) == 0


async def test_stop_cancels_what_was_not_tried_and_finish_reports_once(db: Database) -> None:
    await clients(db, 8)
    broadcast = await scheduled(db, {"topics": ["morning"]})
    async with db.write() as tx:
        await tx.broadcasts.start(broadcast)
        assert await tx.broadcasts.drop_recipient(["telegram:100"], ["morning"]) == 1
        assert await tx.broadcasts.cancel(broadcast.id) == "stopping"
        assert await tx.broadcasts.cancel(broadcast.id) is None
        assert await tx.broadcasts.counts(broadcast.id) == {"cancelled": 4}
    later = await scheduled(db, {"topics": ["morning"]})
    async with db.write() as tx:
        assert await tx.broadcasts.cancel(later.id) == "cancelled"
        assert await tx.broadcasts.due(tx.now() + timedelta(hours=1)) == []
        [stopped] = await tx.broadcasts.finished()  # nothing in flight: stopped, reported once
        assert (stopped.id, stopped.status) == (broadcast.id, "stopped")
        assert await tx.broadcasts.finished() == []


async def test_unsubscribing_or_erasure_mid_broadcast_stops_that_clients_rows(db: Database) -> None:
    await clients(db, 8)
    broadcast = await scheduled(db, {"topics": ["morning"]})
    async with db.write() as tx:
        await tx.broadcasts.start(broadcast)
        leaving = await tx.clients.by_address("telegram:100")
        erased = await tx.clients.by_address("telegram:102")
        assert leaving is not None and erased is not None
        await tx.subscriptions.unsubscribe(leaving.id, "morning", channel="telegram", actor="t")
        await tx.clients.erase(erased.id)
        assert await tx.broadcasts.counts(broadcast.id) == {"pending": 2, "cancelled": 2}


async def test_two_staff_sending_the_same_alert_at_once_see_each_other(db: Database) -> None:
    """Check-then-send in one transaction: the second sender waits for the first and finds
    its alert, so the same warning cannot go out twice from two processes."""
    first_checked = asyncio.Event()

    async def send(wait: bool) -> bool:
        async with db.write() as tx:
            if wait:
                await first_checked.wait()
            found = await tx.broadcasts.alerts_since(tx.now() - timedelta(minutes=10))
            if not wait:
                first_checked.set()
                await asyncio.sleep(0.05)  # the other sender is trying meanwhile
            if found:
                return False
            await tx.broadcasts.create(
                author="console:local", kind="alert", audience={"topics": ["risk"]},
                text="注意", final={"zh": ["注意"]}, priority=10, status="done",
                send_at=tx.now(),
            )  # fmt: skip
            return True

    assert sorted(await asyncio.gather(send(False), send(True))) == [False, True]
    async with db.read() as tx:
        assert len(await tx.broadcasts.alerts_since(tx.now() - timedelta(minutes=10))) == 1


async def test_an_alert_is_withdrawn_by_exactly_one_of_two_at_once(db: Database) -> None:
    async with db.write() as tx:
        alert = await tx.broadcasts.create(
            author="console:local", kind="alert", audience={"topics": ["risk"]}, text="注意",
            final={"zh": ["注意"]}, priority=10, status="done", send_at=tx.now(),
        )  # fmt: skip

    async def withdraw() -> bool:
        async with db.write() as tx:
            return await tx.broadcasts.withdraw(alert.id)

    assert sorted(await asyncio.gather(withdraw(), withdraw())) == [False, True]
    async with db.read() as tx:
        fresh = await tx.broadcasts.get(alert.id)
        assert fresh is not None and fresh.kind == "withdrawn"
        assert await tx.broadcasts.alerts_since(alert.created_at) == []
        assert not await tx.broadcasts.withdraw(alert.id + 1)


async def test_a_withdrawal_reaches_those_who_got_the_alert_in_their_language(
    db: Database,
) -> None:
    await clients(db, 4)  # telegram:100 reads English; 102 Chinese; 101 and 103 not subscribed
    broadcast = await scheduled(db, {"topics": ["morning"]})
    async with db.write() as tx:
        await tx.broadcasts.start(broadcast)
        await tx.conn.execute(
            m.update().where(m.c.broadcast_id == broadcast.id).values(status="sent")
        )
        notice = await tx.broadcasts.create(
            author="console:local", kind="withdrawal", audience={"withdraw": broadcast.id},
            text="撤回", final={"zh": ["撤回"], "en": ["withdrawn"]}, priority=10,
            status="scheduled", send_at=tx.now(),
        )  # fmt: skip
        assert await tx.broadcasts.start_followup(notice, broadcast.id) == 2
        english = [x.text for x in await tx.messages.for_chat("telegram:100")]
        chinese = [x.text for x in await tx.messages.for_chat("telegram:102")]
    assert english == ["morning0", "withdrawn"] and chinese == ["早盘0", "撤回"]
