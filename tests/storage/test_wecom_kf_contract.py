"""WeCom 微信客服's shared state: a welcome code is taken once, and not after it ran out;
the kf cursor only moves from the value a writer read."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from storage.database import Database
from storage.schema import wecom_welcome_codes
from tests.fakes.clock import FakeTime

CHAT = "wecom:wmAlice"


async def test_a_welcome_code_is_taken_once(db: Database, clock: FakeTime) -> None:
    async with db.write() as tx:
        await tx.wecom_kf.put(CHAT, "code-1", tx.now() + timedelta(seconds=18))
    async with db.write() as tx:
        assert await tx.wecom_kf.take(CHAT) == "code-1"
    async with db.write() as tx:
        assert await tx.wecom_kf.take(CHAT) is None
        assert await tx.wecom_kf.take("wecom:nobody") is None


async def test_a_newer_code_replaces_the_old_one(db: Database, clock: FakeTime) -> None:
    async with db.write() as tx:
        await tx.wecom_kf.put(CHAT, "old", tx.now() + timedelta(seconds=18))
    async with db.write() as tx:
        await tx.wecom_kf.put(CHAT, "new", tx.now() + timedelta(seconds=18))
    async with db.write() as tx:
        assert await tx.wecom_kf.take(CHAT) == "new"


async def test_a_code_that_ran_out_is_not_given_and_is_cleared(
    db: Database, clock: FakeTime
) -> None:
    async with db.write() as tx:
        await tx.wecom_kf.put(CHAT, "late", tx.now() + timedelta(seconds=18))
        await tx.wecom_kf.put("wecom:other", "stale", tx.now() + timedelta(seconds=18))
    clock.advance(seconds=18)
    async with db.write() as tx:
        assert await tx.wecom_kf.take(CHAT) is None
        await tx.wecom_kf.put("wecom:third", "fresh", tx.now() + timedelta(seconds=18))
    async with db.read() as tx:
        left = (await tx.conn.execute(sa.select(wecom_welcome_codes.c.chat))).scalars().all()
    assert left == ["wecom:third"]  # the other stale one was cleared on the way


async def test_of_two_senders_taking_at_once_one_gets_the_code(
    db: Database, clock: FakeTime
) -> None:
    async with db.write() as tx:
        await tx.wecom_kf.put(CHAT, "once", tx.now() + timedelta(seconds=18))

    async def take() -> str | None:
        async with db.write() as tx:
            return await tx.wecom_kf.take(CHAT)

    got = await asyncio.gather(*(take() for _ in range(4)))
    assert got.count("once") == 1 and got.count(None) == 3


async def test_a_swap_moves_a_value_only_from_the_one_read(db: Database) -> None:
    key = "wecom.kf.cursor.test"
    async with db.write() as tx:
        assert await tx.meta.swap(key, None, "c1")
        assert not await tx.meta.swap(key, None, "c1'")  # someone set it first
        assert await tx.meta.swap(key, "c1", "c2")
        assert not await tx.meta.swap(key, "c1", "c1'")  # behind: refused
        assert await tx.meta.get(key) == "c2"
