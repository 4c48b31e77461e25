"""The inbound hot path stays cheap: statements and transactions per update are counted
(counts, not timings: timings belong in benchmarks/)."""

from __future__ import annotations

import asyncio

import pytest

from bot.core import inbox as inbox_module
from bot.core.commands import text_event
from tests.harness import Harness


async def counts(bot: Harness, users: list[str], text: str) -> tuple[float, float]:
    """Statements and write transactions per update, for one message from each user, all
    arriving at once (as a long poll hands them over)."""
    stats = bot.app.db.stats
    before = (stats.statements, stats.writes)
    events = [text_event("console", f"console:{u}", f"console:{u}", text) for u in users]
    receipts = await asyncio.gather(*(bot.app.inbox.receive(e) for e in events))
    await bot.app.delivery.settled([i for r in receipts if r for i in r[1]])
    await asyncio.sleep(0.05)  # the last outcomes are written
    n = len(users)
    return (stats.statements - before[0]) / n, (stats.writes - before[1]) / n


async def test_one_update_costs_a_handful_of_statements(bot: Harness) -> None:
    await bot.say("/topics")  # the client exists, caches are warm
    statements, writes = await counts(bot, ["alice"], "/topics")
    # record; context (client, roles, state, config version); subscriptions; replies;
    # mark handled; outcome. Topics come from the cache.
    assert statements <= 6
    assert writes <= 3, "record, handle, outcome"


async def test_a_batch_of_updates_shares_its_transactions(bot: Harness) -> None:
    users = [f"u{i}" for i in range(50)]
    for user in users:
        await bot.say("/start", user=user)
    statements, writes = await counts(bot, users, "/topics")
    assert statements <= 3.5, "per update: context and subscriptions, the rest batched"
    assert writes <= 0.5


async def test_a_topic_change_reaches_every_cached_reader(bot: Harness) -> None:
    await bot.say("/topics")
    assert "网络研讨会" not in await bot.text("/topics")
    await bot.say("/topic add webinar 网络研讨会 Webinars", user="admin")
    assert "网络研讨会" in await bot.text("/topics"), "the cache followed the change"


async def test_receiving_waits_while_too_many_events_wait_to_be_handled(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_QUEUED", 3)
    events = [text_event("console", f"console:q{i}", f"console:q{i}", "/topics") for i in range(4)]
    ids = [await bot.app.inbox.record(e) for e in events]
    inbox = bot.app.inbox
    async with bot.app.db.write():  # the database is busy: handling cannot keep up
        first = inbox.submit(ids[0], events[0])  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # the loop took it and waits for the database
        rest = [inbox.submit(i, e) for i, e in zip(ids[1:], events[1:], strict=True)]  # type: ignore[arg-type]
        room = asyncio.ensure_future(inbox.room())
        await asyncio.sleep(0.05)
        assert not room.done(), "a channel stops taking in more"
    await asyncio.wait_for(asyncio.gather(first, *rest), 10)
    await asyncio.wait_for(room, 10)  # handling caught up: room again
