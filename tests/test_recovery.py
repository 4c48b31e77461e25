"""A process killed mid-work: nothing recorded is lost, nothing is sent twice."""

from __future__ import annotations

import asyncio

from bot.core.commands import text_event
from tests.harness import Harness


async def test_recorded_but_unhandled_event_is_handled_at_next_start(bot: Harness) -> None:
    event = text_event(
        "console", "console:alice", "console:alice", "/subscribe news", dedupe_key="k-1"
    )
    message_id = await bot.app.inbox.record(event)  # the crash happens right after this
    assert message_id is not None
    await bot.restart()
    assert await bot.subs() == ["news"]
    assert len([s for s in bot.sender.sent if "订阅成功" in s.plain]) == 1
    await bot.restart()
    assert len([s for s in bot.sender.sent if "订阅成功" in s.plain]) == 1, "handled once only"


async def test_pending_replies_are_sent_at_next_start(bot: Harness) -> None:
    async with bot.app.db.write() as tx:
        await tx.messages.add_outbound(
            channel="console", chat="console:alice", text="早盘提示", payload={}
        )
    await bot.restart()
    assert [s.plain for s in bot.sender.sent] == ["早盘提示"]


async def test_reply_interrupted_while_sending_becomes_ambiguous(bot: Harness) -> None:
    async with bot.app.db.write() as tx:
        mid = await tx.messages.add_outbound(
            channel="console", chat="console:alice", text="maybe sent", payload={}
        )
        await tx.messages.set_status(mid, "sending")
    await bot.restart()
    assert bot.sender.sent == []
    async with bot.app.db.read() as tx:
        row = await tx.messages.get(mid)
    assert row is not None and row.status == "ambiguous"


async def test_handler_crash_is_recorded_and_the_client_told(bot: Harness) -> None:
    async def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    bot.app.inbox.dispatcher.dispatch = boom  # type: ignore[method-assign]
    [reply] = await bot.say("/start")
    assert "已完整保存" in reply.plain
    [inbound] = [m for m in await bot.archive() if m.direction == "in"]
    assert inbound.status == "failed" and "disk on fire" in (inbound.error or "")


async def test_a_row_waiting_for_its_turn_is_not_claimed(bot: Harness) -> None:
    """Waiting on a rate limit happens before the claim: a crash then leaves it pending."""
    gate = asyncio.Event()
    seen: list[str] = []

    async def slow_pace() -> None:
        async with bot.app.db.read() as tx:
            seen.append((await tx.messages.get(mid)).status)  # type: ignore[union-attr]
        await gate.wait()

    async with bot.app.db.write() as tx:
        mid = await tx.messages.add_outbound(
            channel="console", chat="console:alice", text="排队中", payload={}
        )
    bot.sender.pace = slow_pace  # type: ignore[method-assign]
    task = asyncio.create_task(bot.app.delivery.send_one(mid))
    await asyncio.sleep(0.05)
    assert seen == ["pending"]
    task.cancel()  # the process dies while waiting
    del bot.sender.pace  # the next process paces normally
    await bot.restart()
    assert [s.plain for s in bot.sender.sent] == ["排队中"]
