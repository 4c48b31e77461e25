"""Telegram's limits kept exactly, in virtual time: 30 messages in any rolling second over
all chats, one per second to a chat, 20 in any rolling minute to a group."""

from __future__ import annotations

import itertools

from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime
from tests.unit.delivery.rig import ScriptedSender, engine, peak, row, until


async def test_thirty_a_second_over_all_chats_and_one_a_second_per_chat() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    sender = ScriptedSender(time)
    delivery = engine(store, time, sender)
    # 150 people, three messages each: 450 sends, bounded by both limits at once.
    await store.add([row(f"telegram:{p}", f"{p}/{n}") for n in range(3) for p in range(150)])
    await delivery.start()
    await until(time, lambda: len(sender.calls) == 450)
    await delivery.stop()

    starts = [c.start for c in sender.calls]
    assert peak(starts, 1.0) == 30, "as many as allowed, never more, in any rolling second"
    for person in range(150):
        mine = [c.start for c in sender.calls if c.chat == f"telegram:{person}"]
        assert [c.text for c in sender.calls if c.chat == f"telegram:{person}"] == [
            f"{person}/{n}" for n in range(3)
        ], "one chat's messages in the order written"
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(mine))
    rows = await store.get_many(list(store.rows))
    assert {r.status for r in rows} == {"sent"}


async def test_twenty_a_minute_to_a_group() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    sender = ScriptedSender(time)
    delivery = engine(store, time, sender)
    await store.add([row("telegram:-100", f"group {n}") for n in range(45)])
    await store.add([row("telegram:7", f"person {n}") for n in range(5)])
    await delivery.start()
    await until(time, lambda: len(sender.calls) == 50)
    await delivery.stop()

    group = [c.start for c in sender.calls if c.chat == "telegram:-100"]
    assert peak(group, 60.0) == 20, "twenty in a rolling minute, then a wait"
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(group))
    assert group[20] - group[0] >= 60.0, "the 21st waits until the first is a minute old"
    person = [c.start for c in sender.calls if c.chat == "telegram:7"]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(person))
