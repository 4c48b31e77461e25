"""Moments in SQL: a value given in any zone is one instant on both backends, read back aware
in UTC, and compared as that instant; and the return-visit query that reads them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from storage.database import Database
from storage.schema import return_visits
from tests.fakes.clock import FakeTime

BEIJING = ZoneInfo("Asia/Shanghai")


async def test_a_beijing_time_is_stored_as_the_same_instant(db: Database, clock: FakeTime) -> None:
    clock.set(dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC))  # 17:30 in Beijing
    async with db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            "console:r1", language="zh", display_name="r1", username=None
        )
    asked = dt.datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING)  # what the scheduler passes
    async with db.write() as tx:
        assert await tx.return_visits.due(3, asked) == []  # 2 days 16.5 hours: not yet
    later = dt.datetime(2026, 12, 4, 18, 0, tzinfo=BEIJING)  # three days and half an hour
    async with db.write() as tx:
        assert [c for c, _, _ in await tx.return_visits.due(3, later)] == [client.id]
    clock.set(dt.datetime(2026, 12, 4, 10, 5, tzinfo=dt.UTC))
    async with db.write() as tx:
        assert await tx.return_visits.answer(client.id, 3, 5)
    async with db.read() as tx:
        row = (await tx.conn.execute(sa.select(return_visits))).one()
    assert row.asked_at == later and row.asked_at.utcoffset() == dt.timedelta(0)
    assert row.answered_at == dt.datetime(2026, 12, 4, 10, 5, tzinfo=dt.UTC)
    assert row.answered_at > row.asked_at  # the answer is never older than the question


async def test_a_colleague_with_a_role_does_not_keep_clients_from_being_surveyed(
    db: Database, clock: FakeTime
) -> None:
    clock.set(dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC))
    async with db.write() as tx:
        r1, _ = await tx.clients.get_or_create(
            "console:r1", language="zh", display_name="r1", username=None
        )
        await tx.clients.get_or_create(
            "console:adv1", language="zh", display_name="adv1", username=None
        )
        await tx.roles.grant("console:adv1", "advisor", by="local")
    async with db.write() as tx:
        due = await tx.return_visits.due(3, dt.datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING))
    assert [c for c, _, _ in due] == [r1.id]  # the client, not the advisor
