"""PostgreSQL out of reach (stopped, restarting): one `DatabaseUnavailable`, told once in the
log when lost and once when back; an update it kept out is not counted against the update,
and Telegram's webhook is answered 503 so Telegram sends it again."""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.telegram.webhook import SECRET_HEADER, webhook_routes
from bot.core.batching import Batcher
from bot.core.owner import Tenure
from bot.core.recorder import RECORD_TRIES, Recorder
from bot.core.types import Inbound
from storage.database import Database, DatabaseUnavailable, unavailable


class _Gone(Exception):
    sqlstate = "57P01"  # asyncpg's AdminShutdownError: "terminating connection due to …"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (sa.exc.DBAPIError("SELECT 1", None, Exception("x"), connection_invalidated=True), True),
        (sa.exc.DBAPIError("SELECT 1", None, _Gone("terminating connection")), True),
        (sa.exc.InterfaceError("SELECT 1", None, Exception("connection is closed")), True),
        # asyncpg after the server ended the connection in the middle of a statement
        (sa.exc.DBAPIError("SELECT 1", None, Exception("cannot switch to state 12")), True),
        (sa.exc.IntegrityError("INSERT", None, Exception("duplicate key")), False),
        (ValueError("a bug"), False),
        (TimeoutError(), False),  # a handler's own timeout is not an outage
    ],
)
def test_what_counts_as_out_of_reach(error: Exception, expected: bool) -> None:
    assert unavailable(error) is expected


def test_inside_a_transaction_only_the_drivers_word_counts() -> None:
    """A handler's own HTTP call refused is the handler's failure, not an outage."""
    assert not unavailable(ConnectionRefusedError(111, "refused"), sockets=False)
    assert not unavailable(RuntimeError("the connection is closed"))  # not the driver's
    dropped = sa.exc.DBAPIError("SELECT 1", None, Exception("x"), connection_invalidated=True)
    assert unavailable(dropped, sockets=False)


def test_a_cause_counts_too() -> None:
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert unavailable(wrapped)


async def test_lost_and_back_are_said_once_each(caplog: pytest.LogCaptureFixture) -> None:
    db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    caplog.set_level(logging.WARNING, logger="storage.database")
    with pytest.raises(DatabaseUnavailable):  # never reached yet: start-up's to say, not ours
        async with db.read():
            pass
    assert not caplog.records
    db.reached = True  # as after a transaction that went through
    for _ in range(3):
        with pytest.raises(DatabaseUnavailable):
            async with db.write():
                pass
    with pytest.raises(DatabaseUnavailable):
        async with db.read():
            pass
    async with db._reaching():  # a transaction that goes through again
        pass
    async with db._reaching():
        pass
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert said[0].startswith("database unreachable (ConnectionRefusedError")
    assert said[1].startswith("database is back after ")
    await db.close()


async def test_a_statement_error_stays_what_it_is() -> None:
    db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    with pytest.raises(ValueError, match="a bug"):
        async with db._reaching():
            raise ValueError("a bug")
    assert db.lost_at is None
    await db.close()


async def test_a_batch_is_not_split_while_the_database_is_out_of_reach() -> None:
    calls: list[int] = []

    async def flush(items: Any) -> list[int]:
        calls.append(len(items))
        raise DatabaseUnavailable("down")

    batcher: Batcher[int, int] = Batcher(flush)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, DatabaseUnavailable) for r in results)
    assert sum(calls) <= 5 and len(calls) <= 2  # not once per item after a failed batch


class _DownDatabase:
    """A database whose every write finds the server gone."""

    def __init__(self) -> None:
        self.writes = 0

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def write(self) -> Any:
        outer = self

        class _Tx:
            async def __aenter__(self) -> None:
                outer.writes += 1
                raise DatabaseUnavailable("ConnectionRefusedError: refused")

            async def __aexit__(self, *exc: object) -> None:
                return None

        return _Tx()


async def test_an_outage_never_sends_a_good_update_to_quarantine() -> None:
    db = _DownDatabase()
    recorder = Recorder(db, Tenure("me", 15.0))  # type: ignore[arg-type]
    event = Inbound(
        "telegram", "telegram:1", "telegram:1", text="hi", dedupe_key="telegram:update:7"
    )
    for _ in range(RECORD_TRIES + 2):  # Telegram sending it again and again meanwhile
        with pytest.raises(DatabaseUnavailable):
            await recorder.record(event, {"update_id": 7})
    assert db.writes == RECORD_TRIES + 2  # never a quarantine write: it is recorded when back


async def test_webhook_is_not_acknowledged_while_the_database_is_out_of_reach() -> None:
    async def accept(update: dict[str, Any]) -> None:
        raise DatabaseUnavailable("ConnectionRefusedError: refused")

    app = web.Application()
    app.add_routes(webhook_routes(accept, path="/tg", secret="s"))
    async with TestClient(TestServer(app)) as client:
        answer = await client.post("/tg", json={"update_id": 1}, headers={SECRET_HEADER: "s"})
        assert answer.status == 503  # anything but 200: Telegram delivers it again
