"""GET /readyz: 200 only with the database answering, its schema current and every channel
up; 503 with the reasons otherwise, promptly, and never the database URL or password.
Also the database going away and coming back (PostgreSQL behind a proxy this test cuts)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.core.health import Health
from bot.ops.health import Readiness
from storage.database import Database
from tests.conftest import SettingsFactory
from tests.support import free_port

PASSWORD = "pw-never-shown-4711"
PG_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def readyz(app: App) -> tuple[int, dict[str, Any]]:
    async with TestClient(TestServer(app.http.application())) as client:
        resp = await client.get("/readyz")
        return resp.status, json.loads(await resp.text())


@pytest.fixture
async def make_app(make_settings: SettingsFactory) -> AsyncIterator[Any]:
    apps: list[App] = []

    def make(**env: str) -> App:
        app = App(make_settings(**env))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.db.close()


async def test_ready_when_everything_answers(make_app: Any) -> None:
    status, body = await readyz(make_app())
    assert status == 200
    assert body == {
        "ready": True,
        "database": {"ok": True},
        "migrations": {"ok": True},
        "channels": {"ok": True},
    }


async def test_a_channel_that_is_down_makes_it_not_ready(make_app: Any) -> None:
    app = make_app()
    app.delivery.health.track("telegram")
    app.delivery.health.down("telegram", "getUpdates: connection refused")
    status, body = await readyz(app)
    assert status == 503
    assert body["channels"] == {"ok": False, "why": "telegram: getUpdates: connection refused"}
    assert body["database"]["ok"] and body["migrations"]["ok"]
    app.delivery.health.up("telegram")
    assert (await readyz(app))[0] == 200


async def test_a_database_behind_the_code_is_not_ready(make_app: Any, tmp_path: Path) -> None:
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated
    status, body = await readyz(app)
    assert status == 503
    assert body["database"] == {"ok": True}
    assert not body["migrations"]["ok"] and "db upgrade" in body["migrations"]["why"]


async def test_an_unreachable_database_is_told_without_its_url(make_app: Any) -> None:
    port = free_port()  # nothing listens there
    app = make_app(DATABASE_URL=f"postgresql+asyncpg://bot:{PASSWORD}@127.0.0.1:{port}/bot")
    started = time.monotonic()
    status, body = await readyz(app)
    assert time.monotonic() - started < 2.5, "never hangs"
    assert status == 503
    assert not body["database"]["ok"] and "unreachable" in body["database"]["why"]
    assert not body["migrations"]["ok"]
    text = json.dumps(body)
    assert PASSWORD not in text and str(port) not in text and "bot:" not in text


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut (connections refused and the open
    ones dropped), turn into a black hole (accepts, never answers) or restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.mode = "pass"
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.links.add(writer)
        if self.mode == "hole":
            return  # holds the connection open and says nothing
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def _postgres_reachable(url: str) -> bool:
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True


async def test_postgres_going_away_and_coming_back() -> None:
    from sqlalchemy.engine import make_url

    if not await _postgres_reachable(PG_URL):
        pytest.skip("PostgreSQL not reachable; set TEST_POSTGRES_URL")
    real = make_url(PG_URL)
    proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
    await proxy.start()
    db = Database(real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    ready = Readiness(db, Health(lambda: datetime.now(UTC)), timeout=0.5)
    try:
        assert (await ready.checks())["database"].ok
        await proxy.cut()  # PostgreSQL restarted: pooled connections dead, new ones refused
        started = time.monotonic()
        down = (await ready.checks())["database"]
        assert not down.ok and "unreachable" in down.why
        assert time.monotonic() - started < 1.0
        proxy.mode = "hole"  # back up but not answering yet: the timeout answers for it
        await proxy.start()
        stalled = (await ready.checks())["database"]
        assert not stalled.ok and "no answer within 0.5s" in stalled.why
        proxy.mode = "pass"
        await proxy.cut()
        await proxy.start()
        assert (await ready.checks())["database"].ok, "ready again once it is back"
    finally:
        await proxy.cut()
        await db.close()
