"""Tickets, client files and advisors on every backend: unique numbers under concurrent
writers, exactly one winning claim, one rating kept, routing loads, breaches reported once,
erasure."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.database import Database
from storage.records import Client
from tests.fakes.clock import FakeTime

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def a_client(db: Database, address: str = "telegram:1") -> Client:
    async with db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            address, language="zh", display_name="张三", username=None
        )
    return client


async def a_ticket(db: Database, client: Client, **values: object) -> int:
    async with db.write() as tx:
        number = await tx.tickets.next_number("TS", "20261128")
        ticket = await tx.tickets.create(
            actor=f"telegram:{client.id}",
            number=number,
            kind="complaint",
            client_id=client.id,
            chat="telegram:1",
            text="出金未到账",
            vip=False,
            due_at=tx.now() + timedelta(hours=4),
            **values,
        )
    return ticket.id


async def test_numbers_are_unique_and_readable_under_concurrent_writers(db: Database) -> None:
    async def one() -> str:
        async with db.write() as tx:
            return await tx.tickets.next_number("TS", "20261128")

    numbers = await asyncio.gather(*(one() for _ in range(12)))
    assert sorted(numbers) == [f"TS-20261128-{i:04d}" for i in range(1, 13)]
    async with db.write() as tx:
        assert await tx.tickets.next_number("ZX", "20261128") == "ZX-20261128-0001"
        assert await tx.tickets.next_number("TS", "20261129") == "TS-20261129-0001"


async def test_exactly_one_of_two_claims_wins(db: Database) -> None:
    ticket_id = await a_ticket(db, await a_client(db))

    async def claim(advisor: str) -> bool:
        async with db.write() as tx:
            return await tx.tickets.claim(ticket_id, advisor)

    results = await asyncio.gather(claim("telegram:501"), claim("telegram:502"))
    assert sorted(results) == [False, True]
    async with db.read() as tx:
        ticket = await tx.tickets.get(ticket_id)
    assert ticket is not None and ticket.claimed and ticket.status == "claimed"
    assert ticket.advisor == ("telegram:501" if results[0] else "telegram:502")


async def test_a_ticket_keeps_the_first_of_two_ratings(db: Database) -> None:
    ticket_id = await a_ticket(db, await a_client(db), status="resolved")

    async def rate(score: int) -> bool:
        async with db.write() as tx:
            return await tx.tickets.rate(ticket_id, score)

    results = await asyncio.gather(rate(4), rate(1))
    assert sorted(results) == [False, True]
    assert not await rate(5)
    async with db.read() as tx:
        ticket = await tx.tickets.get(ticket_id)
    assert ticket is not None and ticket.rating == (4 if results[0] else 1)


async def test_routing_sees_duty_roles_and_loads(db: Database) -> None:
    client = await a_client(db)
    async with db.write() as tx:
        for address in ("telegram:501", "telegram:502", "telegram:503"):
            await tx.roles.grant(address, "advisor", by="console:admin")
        await tx.advisors.save("telegram:501", on_duty=True)
        await tx.advisors.save("telegram:502", on_duty=True, display_name="王磊")
        await tx.advisors.save("telegram:504", on_duty=True)  # no advisor role: never routed
    await a_ticket(db, client, advisor="telegram:501")
    async with db.read() as tx:
        assert await tx.advisors.on_duty() == ["telegram:501", "telegram:502"]
        assert await tx.tickets.loads(["telegram:501", "telegram:502"]) == {
            "telegram:501": 1,
            "telegram:502": 0,
        }
        advisor = await tx.advisors.get("telegram:502")
    assert advisor is not None and advisor.display_name == "王磊" and advisor.on_duty


async def test_a_breach_is_reported_once_and_resolved_tickets_close(
    db: Database, clock: FakeTime
) -> None:
    client = await a_client(db)
    late = await a_ticket(db, client)
    done = await a_ticket(db, client)
    async with db.write() as tx:
        await tx.tickets.update(done, status="resolved", resolved_at=tx.now())
    clock.advance(hours=5)

    async def breaches() -> list[int]:
        async with db.write() as tx:
            return [t.id for t in await tx.tickets.due_breaches(tx.now())]

    assert sorted([*await breaches(), *await breaches()]) == [late]
    clock.advance(days=8)
    async with db.write() as tx:
        closed = await tx.tickets.close_resolved(tx.now() - timedelta(days=7))
        assert [t.id for t in closed] == [done]
        assert [e.action for e in await tx.tickets.history(done)] == ["opened", "closed"]


async def test_client_file_and_its_erasure(db: Database) -> None:
    client = await a_client(db)
    await a_ticket(db, client, contact="13812345678")
    async with db.write() as tx:
        await tx.files.set(client.id, tier="vip", phone="13812345678", advisor="telegram:501")
        assert await tx.files.add_tag(client.id, "黄金")
        assert not await tx.files.add_tag(client.id, "黄金")
        await tx.files.add_note(client.id, "console:staff", "偏好电话联系")
        file = await tx.files.get(client)
    assert (file.tier, file.phone, file.advisor, file.tags) == (
        "vip",
        "13812345678",
        "telegram:501",
        ("黄金",),
    )
    assert file.notes[0][1:] == ("console:staff", "偏好电话联系")
    async with db.write() as tx:
        await tx.clients.erase(client.id)
        row = await tx.files.fields(client.id)
        assert (row.phone, row.advisor) == (None, None)
        assert await tx.files.tags(client.id) == []
        assert await tx.tickets.of_client(client.id) == [], "kept as records, hidden"


async def test_reported_breaches_never_hide_new_ones(db: Database, clock: FakeTime) -> None:
    client = await a_client(db)
    ids = [await a_ticket(db, client) for _ in range(3)]
    clock.advance(hours=5)
    async with db.write() as tx:
        first = [t.id for t in await tx.tickets.due_breaches(tx.now(), limit=2)]
        rest = [t.id for t in await tx.tickets.due_breaches(tx.now(), limit=2)]
    assert sorted(first + rest) == ids


async def test_a_month_is_the_firms_month_not_utcs(db: Database, clock: FakeTime) -> None:
    """00:01 on 1 November in Shanghai is still 31 October in UTC."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    clock.set(datetime(2026, 11, 1, 0, 1, tzinfo=shanghai).astimezone(UTC))
    client = await a_client(db)
    first = await a_ticket(db, client)
    clock.set(datetime(2026, 11, 30, 23, 59, tzinfo=shanghai).astimezone(UTC))
    last = await a_ticket(db, client)
    clock.set(datetime(2026, 12, 1, 0, 1, tzinfo=shanghai).astimezone(UTC))
    await a_ticket(db, client)
    november = (datetime(2026, 11, 1, tzinfo=shanghai), datetime(2026, 12, 1, tzinfo=shanghai))
    async with db.read() as tx:
        found = [t.id for t, _ in await tx.tickets.month("complaint", *november)]
    assert found == [first, last]


async def test_client_lists_import_by_page_and_export(db: Database) -> None:
    from storage.repos.client_import import ClientRow

    page = [
        ClientRow(f"telegram:{7000 + i}", f"客户{i}", "zh", None, "vip" if i == 0 else None,
                  ("黄金",) if i % 2 else None, ("morning",) if i < 3 else None)
        for i in range(5)
    ]  # fmt: skip
    async with db.write() as tx:
        assert await tx.client_lists.import_page(page, actor="test", default_language="zh") == (
            5,
            0,
        )
        again = [ClientRow("telegram:7000", "张三", topics=("news",)), ClientRow("telegram:7009")]
        assert await tx.client_lists.import_page(again, actor="test", default_language="en") == (
            1,
            1,
        )
    async with db.read() as tx:
        rows = [r async for r in tx.client_lists.export(page=2)]
        zhang = await tx.clients.by_address("telegram:7000")
        assert zhang is not None and await tx.subscriptions.of(zhang.id) == ["news"]
        history = [(e.topic_key, e.action) for e in await tx.subscriptions.history(zhang.id)]
    assert [r["address"] for r in rows] == [f"telegram:{7000 + i}" for i in (0, 1, 2, 3, 4, 9)]
    assert rows[0]["name"] == "张三" and rows[0]["tier"] == "vip" and rows[1]["tags"] == "黄金"
    assert rows[-1]["language"] == "en"
    assert history == [("morning", "subscribe"), ("news", "subscribe"), ("morning", "unsubscribe")]
