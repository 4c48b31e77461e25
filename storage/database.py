"""Engine set-up and transactions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.tx import Tx

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _prepare_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """WAL + synchronous=FULL, and BEGIN IMMEDIATE for writers so locks are taken up front."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver; the "begin" hook below issues BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Owns the engine; hands out read and write transactions wrapped in a `Tx`."""

    def __init__(self, url: str, *, clock: Clock = utc_now, busy_timeout_ms: int = 30_000) -> None:
        self.url = url
        self.clock = clock
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_async_engine(url, pool_pre_ping=not self.is_sqlite)
        # One writer at a time inside this process; BEGIN IMMEDIATE + busy_timeout across processes.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _prepare_sqlite(self.engine, busy_timeout_ms)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction: committed on success, rolled back on any exception."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield Tx(conn, self.clock)
            return
        async with self._write_lock, self.engine.connect() as raw:
            conn: AsyncConnection = await raw.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                yield Tx(conn, self.clock)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A read-only snapshot; never blocks writers under WAL."""
        async with self.engine.connect() as conn, conn.begin():
            yield Tx(conn, self.clock)

    async def close(self) -> None:
        await self.engine.dispose()
