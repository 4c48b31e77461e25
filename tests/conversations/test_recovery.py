"""A process killed mid-work: nothing recorded is lost, nothing is handled twice, a reply cut
off is sent again and a bulk message cut off is never resent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.commands import text_event
from bot.core.inbox import MAX_TRIES
from tests.fakes.clock import earlier_run
from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

CHAT = "console:alice"


def out(text: str, **extra: object) -> dict[str, object]:
    return {"channel": "console", "chat": CHAT, "text": text, "payload": {}, **extra}


async def test_recorded_but_unhandled_event_is_handled_at_next_start(bot: Harness) -> None:
    event = text_event("console", CHAT, CHAT, "/subscribe news", dedupe_key="k-1")
    async with bot.app.db.write() as tx:  # what a process that died right after recording left
        [message_id] = await tx.messages.record_many(
            [bot.app.inbox.recorder.row(event, None) | {"lease_owner": earlier_run()}]
        )
    assert message_id is not None
    await bot.restart()
    await bot.idle()
    assert await bot.subs() == ["news"]
    assert len([s for s in bot.sender.sent if "订阅成功" in s.plain]) == 1
    await bot.restart()
    await bot.idle()
    assert len([s for s in bot.sender.sent if "订阅成功" in s.plain]) == 1, "handled once only"


async def test_pending_replies_are_sent_at_next_start(bot: Harness) -> None:
    async with bot.app.db.write() as tx:
        await tx.messages.add_outbound_many([out("早盘提示")])
    await bot.restart()
    await bot.idle()
    assert [s.plain for s in bot.sender.sent] == ["早盘提示"]


async def test_a_reply_cut_off_mid_send_is_sent_again_a_bulk_message_never(bot: Harness) -> None:
    gone = {"status": "sending", "lease_owner": earlier_run(), "lease_until": bot.app.db.clock()}
    async with bot.app.db.write() as tx:
        reply, bulk = await tx.messages.add_outbound_many(
            [out("maybe sent", **gone), out("盘中提示", bulk=True, **gone)]
        )
    await bot.restart()
    await bot.idle()
    assert [s.plain for s in bot.sender.sent] == ["maybe sent"]
    async with bot.app.db.read() as tx:
        rows = {r.id: r for r in await tx.messages.get_many([reply, bulk])}
    assert rows[reply].status == "sent"
    assert rows[bulk].status == "ambiguous" and "may have arrived" in (rows[bulk].error or "")


async def test_a_live_process_keeps_its_rows(bot: Harness) -> None:
    """A row another live process is sending is not touched, however old it looks."""
    async with bot.app.db.write() as tx:
        [row_id] = await tx.messages.add_outbound_many(
            [
                out(
                    "theirs",
                    status="sending",
                    lease_owner="other-host:1:abcd:ef",
                    lease_until=bot.app.db.clock() + timedelta(minutes=5),
                )
            ]
        )
    await bot.restart()
    await bot.idle()
    assert bot.sender.sent == []
    async with bot.app.db.read() as tx:
        assert (await tx.messages.get(row_id)).status == "sending"  # type: ignore[union-attr]


async def test_an_event_that_killed_the_process_each_time_is_quarantined(bot: Harness) -> None:
    event = text_event("console", CHAT, CHAT, "/start", dedupe_key="k-poison")
    row = bot.app.inbox.recorder.row(event, None) | {
        "lease_owner": earlier_run(),
        "attempts": MAX_TRIES,
    }
    async with bot.app.db.write() as tx:
        [message_id] = await tx.messages.record_many([row])
    await bot.restart()
    await bot.idle()
    assert bot.sender.sent == [], "not handled a fourth time"
    async with bot.app.db.read() as tx:
        stored = await tx.messages.get(message_id)  # type: ignore[arg-type]
        [failed] = await tx.messages.failed()
    assert stored is not None and stored.status == "failed"
    assert failed.id == message_id and f"{MAX_TRIES} handling attempts" in (failed.error or "")


async def test_handler_crash_is_recorded_and_the_client_told(bot: Harness) -> None:
    async def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    bot.app.inbox.dispatcher.dispatch = boom  # type: ignore[method-assign]
    [reply] = await bot.say("/start")
    assert "已完整保存" in reply.plain
    [inbound] = [m for m in await bot.archive() if m.direction == "in"]
    assert inbound.status == "failed" and "disk on fire" in (inbound.error or "")


async def test_a_clean_stop_hands_back_what_it_held(bot: Harness) -> None:
    bot.sender.limits = bot.sender.limits.__class__(rate=1, margin=0.0)  # one a second
    await bot.restart()
    async with bot.app.db.write() as tx:
        ids = await tx.messages.add_outbound_many([out(f"第{i}条") for i in range(5)])
    bot.app.delivery.notify()
    await bot.app.delivery.settled(ids[:1], timeout=5)
    await bot.stop()  # the other four were claimed and waiting for their turn
    async with bot.app.db.read() as tx:
        rows = await tx.messages.get_many(ids)
    assert rows[0].status == "sent"
    assert {r.status for r in rows[1:]} == {"pending"}, "handed back, not left leased"
    assert all(r.lease_owner is None for r in rows)
    bot.sender.limits = bot.sender.limits.__class__()
    await bot.start()
    await bot.app.delivery.settled(ids[1:], timeout=5)
    assert [s.plain for s in bot.sender.sent] == [f"第{i}条" for i in range(5)]


async def test_an_event_that_only_waited_in_a_dying_process_is_not_charged(bot: Harness) -> None:
    """Taken over again and again (each process died before it got to it), an event that
    never started to be handled is handled normally, not quarantined."""
    event = text_event("console", CHAT, CHAT, "/subscribe news", dedupe_key="k-waited")
    row = bot.app.inbox.recorder.row(event, None) | {"lease_owner": earlier_run()}
    async with bot.app.db.write() as tx:
        [message_id] = await tx.messages.record_many([row])
    for _ in range(MAX_TRIES + 2):  # processes that took it over and died in the queue
        async with bot.app.db.write() as tx:
            await tx.messages.take_over_received(owner=earlier_run(), lease_until=tx.now())
    await bot.restart()
    await bot.idle()
    assert await bot.subs() == ["news"]
    async with bot.app.db.read() as tx:
        stored = await tx.messages.get(message_id)  # type: ignore[arg-type]
    assert stored is not None and (stored.status, stored.attempts) == ("handled", 1)
