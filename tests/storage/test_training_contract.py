"""Training seats and answers in SQL: the waiting list moves up in the order people answered,
as far as the seats allow, and a typed answer finds the session the client was asked about."""

from __future__ import annotations

import datetime as dt

from storage.database import Database
from storage.records import Client
from tests.fakes.clock import FakeTime

DAY = dt.date(2026, 2, 6)


async def clients_(db: Database, *names: str, language: str = "zh") -> list[Client]:
    out = []
    async with db.write() as tx:
        for name in names:
            client, _ = await tx.clients.get_or_create(
                f"telegram:{name}", language=language, display_name=name, username=None
            )
            out.append(client)
    return out


async def test_more_seats_fill_from_the_waiting_list_in_answer_order(
    db: Database, clock: FakeTime
) -> None:
    a, b, c, d = await clients_(db, "a", "b", "c", "d")
    [e] = await clients_(db, "e", language="en")
    async with db.write() as tx:
        await tx.training.ensure(DAY, place="室", time="19:30", seats=1)
    for client in (a, d, b, e, c):  # d answered before b, b before e, e before c
        clock.advance(minutes=1)
        async with db.write() as tx:
            await tx.training.answer(DAY, client.id, f"telegram:{client.display_name}", "attend")
    async with db.write() as tx:
        assert await tx.training.fill(DAY) == []  # no free seat
        await tx.training.update(DAY, seats=4)
        promoted = await tx.training.fill(DAY)
        assert await tx.training.fill(DAY) == []
    assert [(p.chat, p.language) for p in promoted] == [
        ("telegram:d", "zh"), ("telegram:b", "zh"), ("telegram:e", "en"),
    ]  # fmt: skip
    async with db.read() as tx:
        assert await tx.training.count(DAY, "seat") == 4
        assert await tx.training.count(DAY, "waiting") == 1

    async with db.write() as tx:  # a seat given back goes to the one still waiting
        status, freed = await tx.training.answer(DAY, a.id, "telegram:a", "no")
    assert status == "none" and [p.chat for p in freed] == ["telegram:c"]


async def test_a_typed_answer_finds_the_latest_open_session_of_that_client(
    db: Database,
) -> None:
    a, b = await clients_(db, "a", "b")
    later = DAY + dt.timedelta(days=28)
    async with db.write() as tx:
        for day in (DAY, later):
            await tx.training.ensure(day, place="室", time="19:30", seats=5)
        await tx.training.answer(DAY, a.id, "telegram:a", "maybe")
    async with db.read() as tx:
        session = await tx.training.open_for(a.id, DAY)
        assert session is not None and session.day == DAY
        assert await tx.training.open_for(a.id, DAY + dt.timedelta(days=1)) is None  # over
        assert await tx.training.open_for(b.id, DAY) is None  # never asked
    async with db.write() as tx:
        await tx.training.answer(later, a.id, "telegram:a", "attend")
    async with db.read() as tx:
        session = await tx.training.open_for(a.id, DAY)
    assert session is not None and session.day == later
