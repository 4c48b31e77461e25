"""Which row goes first when the line is full: replies before bulk, then the higher
priority (an alert before a routine note), then the older."""

from __future__ import annotations

from bot.core.delivery import Limits
from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime
from tests.unit.delivery.rig import ScriptedSender, engine, row, until


async def test_replies_then_alerts_then_routine_bulk() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    sender = ScriptedSender(time, limits=Limits(rate=1.0, margin=0.0))  # one at a time
    delivery = engine(store, time, sender)
    await store.add(
        [
            row("telegram:1", "routine", bulk=True),
            row("telegram:2", "alert", bulk=True, priority=9),
            row("telegram:3", "reply"),
            row("telegram:4", "urgent reply", priority=5),
            row("telegram:5", "routine 2", bulk=True),
        ]
    )
    await delivery.start()
    await until(time, lambda: len(sender.calls) == 5)
    await delivery.stop()
    assert sender.sent() == ["urgent reply", "reply", "alert", "routine", "routine 2"]


async def test_a_reply_written_later_overtakes_waiting_bulk() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    sender = ScriptedSender(time, limits=Limits(rate=1.0, margin=0.0))
    delivery = engine(store, time, sender)
    await store.add([row(f"telegram:{n}", f"bulk {n}", bulk=True) for n in range(4)])
    await delivery.start()
    await until(time, lambda: len(sender.calls) == 1)
    await store.add([row("telegram:99", "reply")])
    delivery.notify("telegram")
    await until(time, lambda: len(sender.calls) == 5)
    await delivery.stop()
    assert sender.sent().index("reply") <= 2, "ahead of the bulk still waiting"
