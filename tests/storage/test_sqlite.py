"""SQLite-only guarantees: durable WAL settings, safe cross-process writers, data directory."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.database import Database
from storage.migrate import current, upgrade
from tests.fakes.clock import FakeTime

SYNCHRONOUS_FULL = 2


def url_for(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"


@pytest.fixture
async def sqlite_db(db_path: Path, clock: FakeTime) -> AsyncIterator[Database]:
    db = Database(url_for(db_path), clock=clock)
    await upgrade(db)
    try:
        yield db
    finally:
        await db.close()


async def pragmas(conn: Any) -> dict[str, object]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    return {n: (await conn.exec_driver_sql(f"PRAGMA {n}")).scalar_one() for n in names}


EXPECTED = {"journal_mode": "wal", "synchronous": SYNCHRONOUS_FULL, "foreign_keys": 1}


async def test_every_pooled_connection_uses_wal_and_full_sync(
    sqlite_db: Database, db_path: Path
) -> None:
    # Hold several connections at once so the pool has to open more than one.
    async with sqlite_db.read() as one, sqlite_db.read() as two, sqlite_db.read() as tx:
        for each in (one, two, tx):
            assert await pragmas(each.conn) == {**EXPECTED, "busy_timeout": 30_000}
    assert sqlite_db.sync_engine.pool.checkedin() >= 3  # they went back to the pool ...

    for _ in range(2):  # ... and keep their settings when checked out again
        async with sqlite_db.write() as tx:
            assert await pragmas(tx.conn) == {**EXPECTED, "busy_timeout": 30_000}
        async with sqlite_db.read() as tx:
            assert await pragmas(tx.conn) == {**EXPECTED, "busy_timeout": 30_000}

    # WAL is a property of the file, so any other process opening it uses WAL too.
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


async def test_busy_timeout_is_configurable(db_path: Path, clock: FakeTime) -> None:
    db = Database(url_for(db_path), clock=clock, busy_timeout_ms=1234)
    try:
        async with db.read() as tx:
            assert (await pragmas(tx.conn))["busy_timeout"] == 1234
    finally:
        await db.close()


async def test_two_databases_on_one_file_start_and_write_concurrently(
    db_path: Path, clock: FakeTime
) -> None:
    """A second `Database` on the same file behaves like a second process: no lock errors."""
    first = Database(url_for(db_path), clock=clock)
    second = Database(url_for(db_path), clock=clock)
    try:
        # Both "processes" start at once and both run the migrations.
        await asyncio.wait_for(asyncio.gather(upgrade(first), upgrade(second)), timeout=30)
        assert (await current(first))[0] == (await current(second))[0] is not None

        async def writer(db: Database, n: int) -> int:
            async with db.write() as tx:
                # Read first, then write: a deferred transaction would fail with SQLITE_BUSY
                # here when the other file handle wrote in between.
                client, created = await tx.clients.get_or_create(
                    f"telegram:{n}", language="zh", display_name=None, username=None
                )
                await asyncio.sleep(0.005)  # keep the lock while the other side queues up
                await tx.subscriptions.subscribe(client.id, "news", channel="telegram", actor="t")
                await tx.messages.record_inbound(
                    channel="telegram",
                    chat=f"telegram:{n}",
                    sender=f"telegram:{n}",
                    kind="text",
                    text="hi",
                    payload={},
                    dedupe_key=f"update-{n}",
                )
                assert created
                return client.id

        jobs = [writer(first if n % 2 else second, n) for n in range(30)]
        ids = await asyncio.wait_for(asyncio.gather(*jobs), timeout=30)

        assert len(set(ids)) == 30
        for db in (first, second):
            async with db.read() as tx:
                assert await tx.subscriptions.subscribers("news") == sorted(ids)
                assert await tx.messages.count(direction="in") == 30
    finally:
        await first.close()
        await second.close()


async def test_readers_are_not_blocked_by_a_writer_in_another_database(
    db_path: Path, clock: FakeTime, sqlite_db: Database
) -> None:
    other = Database(url_for(db_path), clock=clock)
    try:
        async with sqlite_db.write() as tx:
            await tx.states.set("telegram:1", "uncommitted")
            async with asyncio.timeout(2), other.read() as reader:
                # WAL: the reader gets the last committed snapshot at once.
                assert await reader.states.get("telegram:1") is None
                assert len(await reader.topics.list()) == 8
        async with other.read() as reader:
            assert (await reader.states.get("telegram:1")).state == "uncommitted"
    finally:
        await other.close()


async def test_missing_data_directory_is_created(tmp_path: Path, clock: FakeTime) -> None:
    path = tmp_path / "does" / "not" / "exist" / "bot.db"
    db = Database(url_for(path), clock=clock)
    try:
        assert path.parent.is_dir()
        await upgrade(db)
        async with db.read() as tx:
            assert len(await tx.topics.list()) == 8
        assert path.is_file()
    finally:
        await db.close()


async def test_relative_data_directory_is_created(
    tmp_path: Path, clock: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = Database("sqlite:///data/bot.db", clock=clock)  # the configured default
    try:
        assert (tmp_path / "data").is_dir()
        await upgrade(db)
        assert (tmp_path / "data" / "bot.db").is_file()
    finally:
        await db.close()
