"""A 429 with retry_after holds the whole channel: no call at all during the hold, then a
single probe, and only when it goes through do sends go several at a time again."""

from __future__ import annotations

import itertools

from bot.core.delivery import SendFailure
from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime
from tests.unit.delivery.rig import ScriptedSender, engine, row, until


async def test_no_call_during_the_hold_then_one_probe() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    sender = ScriptedSender(time, latency=0.2)  # several calls in flight at 30/s
    flood = SendFailure("retry", "Too Many Requests", retry_after=7.0)
    sender.failures["m10"] = [flood]
    delivery = engine(store, time, sender)
    await store.add([row(f"telegram:{n}", f"m{n}") for n in range(40)])
    await delivery.start()
    await until(time, lambda: len(sender.sent()) == 40)
    await delivery.stop()

    [refused] = [c for c in sender.calls if c.failed]
    hold_end = refused.end + 7.0
    during = [c for c in sender.calls if refused.end <= c.start < hold_end]
    assert during == [], "nothing at all while the platform holds us back"
    after = sorted((c for c in sender.calls if c.start >= hold_end), key=lambda c: c.start)
    probe = after[0]
    assert probe.start == hold_end, "the probe goes as soon as the hold ends"
    assert all(c.start >= probe.end for c in after[1:]), "nothing else until the probe is back"
    assert any(b.start < a.end for a, b in itertools.pairwise(after[1:])), "then several at once"
    assert sorted(sender.sent()) == sorted(f"m{n}" for n in range(40)), "each sent once"
    [again] = await store.get_many([11])  # m10, refused once, then sent
    assert again.status == "sent" and again.attempts == 2
