"""Engine set-up and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with `synchronous=FULL`; writers take the lock up front with
`BEGIN IMMEDIATE` (one writer at a time in this process, `busy_timeout` across processes),
and statements run inline (see `storage.inline`). PostgreSQL goes through asyncpg.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.inline import InlineConnection, in_thread
from storage.records import SmsPolicy
from storage.tx import Tx

Clock = Callable[[], datetime]
T = TypeVar("T")
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
log = logging.getLogger(__name__)
# SQLSTATE classes that mean the server is gone, not that a statement is wrong: connection
# exceptions (08…) and operator intervention (57P01 shutdown, 57P03 starting up, …).
_GONE_STATES = ("08", "57P")
_GONE_TEXTS = (
    "connection is closed",
    "connection was closed",
    "underlying connection is closed",
    "cannot switch to state",  # asyncpg, when the server ended the connection mid-statement
)


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (stopped, restarting, the connection dropped).
    The transaction did not go through (a COMMIT cut off may have: work is idempotent or
    deduplicated); the caller tries again later, or answers so that its sender does."""


def unavailable(exc: BaseException, *, sockets: bool = True) -> bool:
    """Whether `exc` (or what caused it) says the database server is out of reach, as
    opposed to a statement or its data being wrong. `sockets`: a bare refused or reset
    connection counts too (at a transaction's edge it can only be the database's; inside
    one, a handler's own HTTP call may fail that way)."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, DatabaseUnavailable):
            return True
        if sockets and isinstance(error, ConnectionError):  # refused, reset
            return True
        if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
            return True
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state.startswith(_GONE_STATES):
            return True
        driver = type(error).__module__.startswith(("sqlalchemy", "asyncpg"))
        if driver and any(text in str(error).lower() for text in _GONE_TEXTS):
            return True
        for linked in (getattr(error, "orig", None), error.__cause__, error.__context__):
            if isinstance(linked, BaseException):
                stack.append(linked)
    return False


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Stats:
    """Counters for benchmarks and health: SQL statements (not BEGIN/COMMIT/savepoints),
    committed write transactions, read transactions."""

    statements: int = 0
    writes: int = 0
    reads: int = 0


def _prepare_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """WAL + synchronous=FULL, and BEGIN IMMEDIATE for writers so locks are taken up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver; the "begin" hook below issues BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # The wait first: switching a new file to WAL must wait out another starting process.
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _count(engine: sa.Engine, stats: Stats) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip()[:9].upper().startswith(_CONTROL):
            stats.statements += 1


@dataclass(frozen=True, slots=True)
class Pool:
    """PostgreSQL's connection pool: kept open, more allowed under load, seconds to wait for
    one (SQLite ignores it: one writer, statements inline)."""

    size: int = 5
    max_overflow: int = 10
    timeout: float = 30.0


def _short(exc: BaseException) -> str:
    """The server's or the driver's own words, on one line: the first cause that names the
    server gone (a shutdown, a refused connection), else the driver's error."""
    chain: list[BaseException] = []
    error: BaseException | None = exc
    while error is not None and error not in chain:
        chain.append(error)
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    gone = [
        e
        for e in chain
        if isinstance(e, ConnectionError)
        or str(getattr(e, "sqlstate", None) or "").startswith(_GONE_STATES)
    ]
    error = gone[-1] if gone else (getattr(exc, "orig", None) or exc)
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:200]


class Database:
    """Owns the engine; hands out read and write transactions wrapped in a `Tx`."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        busy_timeout_ms: int = 30_000,
        pool: Pool | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self.stats = Stats()
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path: Path | None = None
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                self.path = Path(parsed.database)
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.sync_engine = sa.create_engine(
                parsed.set(drivername="sqlite+pysqlite"),
                connect_args={"check_same_thread": False},
                pool_size=5,
                max_overflow=20,
            )
            _prepare_sqlite(self.sync_engine, busy_timeout_ms)
            self._async_engine = None
        else:
            pool = pool or Pool()
            # pre_ping: a connection the server dropped (a restart) is replaced on checkout,
            # and SQLAlchemy then drops every older pooled one with it.
            self._async_engine = create_async_engine(
                url,
                pool_pre_ping=True,
                pool_size=pool.size,
                max_overflow=pool.max_overflow,
                pool_timeout=pool.timeout,
            )
            self.sync_engine = self._async_engine.sync_engine
        _count(self.sync_engine, self.stats)
        # One writer at a time inside this process; BEGIN IMMEDIATE + busy_timeout across processes.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer: sa.Connection | None = None
        # Shared by every transaction: data that rarely changes, tagged with a version.
        self.cache: dict[str, tuple[str, Any]] = {}
        # The topics whose pushes may spend a WeChat mass send (set by the app from settings).
        self.mass_topics: frozenset[str] = frozenset()
        self.mass_kind = "list"  # or "tag": a subscription account's sends to a topic's tag
        # How long an advisor has to confirm a WeCom group message: a push, an alert.
        self.group_confirm = (timedelta(hours=12), timedelta(minutes=30))
        self.sms: SmsPolicy | None = None  # what SMS may carry; None: SMS is off
        self.lost_at: float | None = None  # monotonic time the server was found out of reach
        self.reached = False  # a transaction went through once (else: a start-up problem)

    def _tx(self, conn: Any) -> Tx:
        return Tx(
            conn, self.clock, self.cache, mass_topics=self.mass_topics, mass_kind=self.mass_kind,
            group_confirm=self.group_confirm, sms=self.sms,
        )  # fmt: skip

    @property
    def writing(self) -> bool:
        """A write transaction of this process is open (SQLite)."""
        return self._write_lock is not None and self._write_lock.locked()

    @property
    def dialect(self) -> str:
        return self.sync_engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction: committed on success, rolled back on any exception."""
        if self._async_engine is not None:
            async with self._reaching(), self._async_engine.begin() as conn:
                yield self._tx(conn)
            self.stats.writes += 1
            return
        assert self._write_lock is not None
        async with self._write_lock:
            conn = self._writer_connection()
            try:
                trans = await in_thread(conn.begin)  # BEGIN IMMEDIATE may wait for another process
            except BaseException:
                if conn.in_transaction():  # cancelled after BEGIN went through
                    conn.rollback()
                raise
            try:
                yield self._tx(InlineConnection(conn))
            except BaseException:
                self._rollback(trans)
                raise
            try:
                await in_thread(trans.commit)  # the fsync
            except BaseException:
                self._rollback(trans)
                raise
            self.stats.writes += 1

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A read-only snapshot; never blocks writers under WAL."""
        self.stats.reads += 1
        if self._async_engine is not None:
            async with self._reaching(), self._async_engine.connect() as conn, conn.begin():
                yield self._tx(conn)
            return
        conn = self.sync_engine.connect()
        try:
            with conn.begin():
                yield self._tx(InlineConnection(conn))
        finally:
            conn.close()

    async def run_sync(self, fn: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        """Run `fn(connection)` in one transaction off the event loop (migrations, big jobs)."""
        if self._async_engine is not None:
            async with self._reaching(), self._async_engine.connect() as conn:
                async with conn.begin():
                    return await conn.run_sync(fn)
        if not write:
            return await in_thread(self._sync_read, fn)
        assert self._write_lock is not None
        async with self._write_lock:
            return await in_thread(self._sync_write, fn)

    @asynccontextmanager
    async def _reaching(self) -> AsyncIterator[None]:
        """PostgreSQL out of reach becomes `DatabaseUnavailable`, said once in the log when
        it is lost and once when a transaction goes through again. The pool's pre-ping
        replaces the connections a restarted server dropped, so nothing else is needed."""
        try:
            yield
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            if not unavailable(exc):
                raise
            if self.lost_at is None and self.reached:  # at start-up the caller says it
                self.lost_at = time.monotonic()
                log.warning(
                    "database unreachable (%s); webhooks are refused so the platforms send "
                    "again, and work waits until it is back",
                    _short(exc),
                )
            raise DatabaseUnavailable(_short(exc)) from exc
        self.reached = True
        if self.lost_at is not None:
            log.warning("database is back after %.1f s", time.monotonic() - self.lost_at)
            self.lost_at = None

    def _sync_read(self, fn: Callable[[sa.Connection], T]) -> T:
        with self.sync_engine.connect() as conn, conn.begin():
            return fn(conn)

    def _sync_write(self, fn: Callable[[sa.Connection], T]) -> T:
        with self.sync_engine.connect() as raw:
            conn = raw.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                return fn(conn)

    def _writer_connection(self) -> sa.Connection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            conn = self.sync_engine.connect()
            self._writer = conn.execution_options(sqlite_begin="IMMEDIATE")
        return self._writer

    def _rollback(self, trans: sa.Transaction) -> None:
        try:
            if trans.is_active:
                trans.rollback()
        except Exception:  # a broken connection: start over with a new one next time
            if self._writer is not None:
                self._writer.invalidate()
                self._writer = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._async_engine is not None:
            await self._async_engine.dispose()
        else:
            self.sync_engine.dispose()
