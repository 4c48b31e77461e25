"""Fixtures for the storage contract suite: one `db` per backend, plus a controllable clock
(`tests.fakes.clock.FakeTime`).

`db` is parametrised over "sqlite" (always: a fresh file database under tmp_path) and
"postgres" (a fresh, uniquely named database per test on the server named by
TEST_POSTGRES_URL, dropped afterwards; skipped with a reason when the server cannot be reached).
Both are copies of a database migrated once per session; `empty_db` is a new, empty one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.database import Database
from storage.memory_inbox import MemoryInbox
from storage.memory_outbox import MemoryOutbox
from storage.migrate import upgrade
from storage.sql_inbox import SqlInbox
from storage.sql_outbox import SqlOutbox
from tests.conftest import copy_sqlite
from tests.fakes.clock import FakeTime

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PROBE_TIMEOUT_S = 3.0
BACKENDS = ["sqlite", "postgres"]
# The outbox and inbox lease stores have in-memory references too: `@on_every_store` runs
# a test on all three.
STORES = ["memory", *BACKENDS]
on_every_store = pytest.mark.parametrize("backend", STORES, indirect=True)


@pytest.fixture
def clock() -> FakeTime:
    """Virtual time standing still at a known moment until a test moves it."""
    return FakeTime(datetime(2026, 1, 15, 9, 30, tzinfo=UTC))


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin_url() -> URL:
    """The admin URL, probed once per session; skips every postgres test if unreachable."""
    url = make_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    shown = url.render_as_string(hide_password=True)

    async def probe() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=PROBE_TIMEOUT_S)
        try:
            await conn.fetchval("SELECT 1", timeout=PROBE_TIMEOUT_S)
        finally:
            await conn.close(timeout=PROBE_TIMEOUT_S)

    try:
        asyncio.run(asyncio.wait_for(probe(), PROBE_TIMEOUT_S * 2))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(
            f"PostgreSQL not reachable at {shown} ({type(exc).__name__}: {exc}); "
            "set TEST_POSTGRES_URL to run the postgres backend"
        )
    return url


@pytest.fixture(scope="session")
def migrated_postgres(postgres_admin_url: URL) -> Iterator[str]:
    """The name of a database migrated once per session, for `db` to copy (CREATE DATABASE
    ... TEMPLATE): copying takes a fraction of what the migrations take."""
    name = f"storage_template_{os.getpid()}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(postgres_admin_url), timeout=PROBE_TIMEOUT_S)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def prepare() -> None:
        await admin(f'CREATE DATABASE "{name}"')
        db = Database(postgres_admin_url.set(database=name).render_as_string(hide_password=False))
        try:
            await upgrade(db)
        finally:
            await db.close()  # a template must have no connections when it is copied

    asyncio.run(prepare())
    try:
        yield name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("postgres_admin_url")  # skips when the server is unreachable
    return request.param


@pytest.fixture
def template(backend: str, request: pytest.FixtureRequest) -> Path | str:
    """The migrated database `db` copies: a file, or a PostgreSQL database's name. Not async:
    the session's templates are made outside any test's event loop."""
    if backend == "sqlite":
        return request.getfixturevalue("migrated_sqlite")  # type: ignore[no-any-return]
    return request.getfixturevalue("migrated_postgres")  # type: ignore[no-any-return]


@asynccontextmanager
async def _postgres_database(admin_url: URL, template: str | None = None) -> AsyncIterator[str]:
    """A fresh, uniquely named database (a copy of `template`, if given), dropped afterwards."""
    name = f"storage_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
async def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """URL of a fresh, empty database on the current backend (no migrations applied)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
        return
    async with _postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture
async def empty_db(database_url: str, clock: FakeTime) -> AsyncIterator[Database]:
    """A `Database` on a fresh database with no schema yet."""
    db = Database(database_url, clock=clock)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def db(
    backend: str,
    template: Path | str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FakeTime,
) -> AsyncIterator[Database]:
    """A migrated, seeded `Database` on the current backend, using the fake clock: a fresh
    copy of the session's migrated one."""
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            assert isinstance(template, Path)
            url = f"sqlite:///{copy_sqlite(template, tmp_path / 'data' / 'bot.db')}"
        else:
            admin_url: URL = request.getfixturevalue("postgres_admin_url")
            url = await stack.enter_async_context(_postgres_database(admin_url, str(template)))
        db = Database(url, clock=clock)
        stack.push_async_callback(db.close)
        await upgrade(db)  # a no-op at head: says the copy is complete
        yield db


@pytest.fixture
def store(
    backend: str, request: pytest.FixtureRequest, clock: FakeTime
) -> MemoryOutbox | SqlOutbox:
    """The delivery engine's outbox store on the current backend (see `on_every_store`).
    Not async: it asks for `db` only on a database backend, and an async fixture cannot."""
    if backend == "memory":
        return MemoryOutbox(clock)
    return SqlOutbox(request.getfixturevalue("db"))


@pytest.fixture
def inbox(backend: str, request: pytest.FixtureRequest, clock: FakeTime) -> MemoryInbox | SqlInbox:
    """The inbox's lease store on the current backend (see `on_every_store`)."""
    if backend == "memory":
        return MemoryInbox(clock)
    return SqlInbox(request.getfixturevalue("db"))
