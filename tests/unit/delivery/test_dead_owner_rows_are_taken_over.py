"""Rows a dead process left behind: a reply it was sending goes out again (a doubled answer
beats silence), a bulk message it was sending becomes `ambiguous` (never doubled), and a
bulk message it had only queued is sent; its channel lease is taken at once."""

from __future__ import annotations

from datetime import timedelta

from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime, earlier_run
from tests.unit.delivery.rig import ScriptedSender, engine, row, until


async def test_a_new_process_takes_over_what_a_dead_one_left() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    dead = earlier_run()
    lease = {"lease_owner": dead, "lease_until": time() + timedelta(minutes=5)}
    ids = await store.add(
        [
            row("telegram:1", "reply", status="sending", **lease),
            row("telegram:2", "bulk under way", status="sending", bulk=True, **lease),
            row("telegram:3", "bulk queued", status="queued", bulk=True, **lease),
        ]
    )
    await store.renew(dead, time() + timedelta(minutes=5), leases=["delivery:telegram"])

    sender = ScriptedSender(time)
    delivery = engine(store, time, sender)
    await delivery.start()
    assert delivery.dead_owners == (dead,)
    assert delivery.workers["telegram"].leader, "the dead owner's lease is taken at once"
    await until(time, lambda: len(sender.calls) == 2)
    await delivery.stop()

    assert sorted(sender.sent()) == ["bulk queued", "reply"]
    rows = await store.get_many(ids)
    assert [r.status for r in rows] == ["sent", "ambiguous", "sent"]
    assert rows[1].error is not None and "may have arrived" in rows[1].error
