"""A platform call outside the outbox (answering a button) books a slot in the channel's
window like any send: it waits its turn within `max_wait`, or is refused."""

from __future__ import annotations

from bot.core.delivery import Limits
from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime
from tests.unit.delivery.rig import ScriptedSender, engine


async def test_extra_calls_wait_their_turn_or_are_refused() -> None:
    time = FakeTime()
    sender = ScriptedSender(time, limits=Limits(rate=1.0, margin=0.0))
    delivery = engine(MemoryOutbox(time), time, sender)
    start = time.now()
    assert await delivery.extra_call("telegram"), "a free window: at once"
    assert time.now() == start
    assert not await delivery.extra_call("telegram", max_wait=0.5), "a second away: refused"
    assert time.now() == start, "a refusal does not wait"
    assert await delivery.extra_call("telegram", max_wait=5.0)
    assert time.now() == start + 1.0, "booked once the window had room"
    assert await delivery.extra_call("console"), "a channel without a worker has no limits"
