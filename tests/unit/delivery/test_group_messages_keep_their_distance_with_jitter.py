"""QQ's group pacing, in virtual time: between two group messages, whatever the groups, at
least `group_interval` and at most `group_interval + group_jitter` (the jitter is random)."""

from __future__ import annotations

import itertools

from bot.core.delivery import Limits
from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime
from tests.unit.delivery.rig import ScriptedSender, engine, row, until


async def test_group_messages_are_spaced_by_the_interval_plus_at_most_the_jitter() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    sender = ScriptedSender(time, limits=Limits(group_interval=0.3, group_jitter=0.2))
    delivery = engine(store, time, sender)
    # Six notices to two groups, alternating: the spacing holds across groups.
    await store.add([row(f"telegram:-{800 + n % 2}", f"群通知 {n}") for n in range(6)])
    await delivery.start()
    await until(time, lambda: len(sender.calls) == 6, step=0.1)
    await delivery.stop()

    assert sender.sent() == [f"群通知 {n}" for n in range(6)], "in the order written"
    gaps = [b.start - a.start for a, b in itertools.pairwise(sender.calls)]
    assert len(gaps) == 5
    assert all(0.3 - 1e-9 <= gap <= 0.5 + 1e-9 for gap in gaps), gaps
    assert max(gaps) > 0.3, f"the jitter is added: {gaps}"
