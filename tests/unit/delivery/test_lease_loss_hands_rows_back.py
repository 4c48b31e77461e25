"""Another process takes the channel's lease: this one stops sending, hands back the rows it
held and had not started, and the new holder sends them; no message goes out twice."""

from __future__ import annotations

from collections import Counter

from bot.core.delivery import Limits
from bot.core.owner import new_owner
from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime
from tests.unit.delivery.rig import ScriptedSender, engine, row, until

SLOW = Limits(rate=2.0, margin=0.0)  # rows wait in memory long enough to be handed back


async def test_the_new_holder_sends_what_the_old_one_held() -> None:
    time = FakeTime()
    store = MemoryOutbox(time)
    first_sender = ScriptedSender(time, limits=SLOW)
    first = engine(store, time, first_sender)
    await store.add([row(f"telegram:{n}", f"m{n}") for n in range(12)])
    await first.start()
    await until(time, lambda: len(first_sender.calls) >= 3)
    held_before = set(first.workers["telegram"].held)
    assert held_before, "rows claimed and waiting their turn"

    # Another process takes the lease (it believes the first one dead).
    second_owner = new_owner()
    until_then = store.now().replace(year=store.now().year + 1)
    await store.renew(second_owner, until_then, leases=["delivery:telegram"], dead=[first.owner])
    await first.keeper.keep(expire=False)

    worker = first.workers["telegram"]
    assert not worker.leader, "told it no longer delivers"
    under_way = set(worker.held)  # a call already left: it finishes and is written as usual
    assert len(under_way) <= 1 and under_way <= held_before
    handed = await store.get_many(sorted(held_before - under_way))
    assert handed and {r.status for r in handed} == {"pending"}
    assert not any(r.lease_owner for r in handed), "free for the new holder"

    second_sender = ScriptedSender(time, limits=SLOW)
    second = engine(store, time, second_sender, owner=second_owner)
    await second.start()
    await until(time, lambda: len(first_sender.calls) + len(second_sender.calls) == 12)
    await first.stop()
    await second.stop()

    sent = Counter(first_sender.sent() + second_sender.sent())
    assert sent == Counter(f"m{n}" for n in range(12)), "each message once, none lost"
    assert second_sender.calls, "the new holder delivered the rest"
    rows = await store.get_many(list(store.rows))
    assert {r.status for r in rows} == {"sent"}
