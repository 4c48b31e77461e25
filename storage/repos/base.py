"""Common base for repositories."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from storage.schema import meta

VERSION_KEY = "config.version"
T = TypeVar("T")


def is_duplicate(exc: IntegrityError) -> bool:
    """A unique or primary key was taken (not, say, a foreign key violation)."""
    orig = exc.orig
    if getattr(orig, "pgcode", None) == "23505":
        return True
    name = getattr(orig, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return True
    return "UNIQUE constraint failed" in str(orig) or "duplicate key value" in str(orig)


class TxState:
    """What the repositories of one transaction share: the cross-transaction cache, the
    config version this transaction saw, the clients it changed, and whether it wrote
    outbox rows waiting to be claimed (`unannounced`)."""

    __slots__ = ("cache", "touched", "unannounced", "version")

    def __init__(self, cache: dict[str, tuple[str, Any]]) -> None:
        self.cache = cache
        self.version: str | None = None
        self.touched: set[int] = set()
        # Pending outbox rows were written (a broadcast started from a chat, say): nobody
        # claims them until a delivery worker looks, so whoever commits the transaction
        # wakes the workers (`Delivery.notify`) instead of leaving them to their next poll.
        # Set even when a savepoint later rolls them back: a needless wake costs one claim.
        self.unannounced = False


class Repo:
    def __init__(self, conn: Any, clock: Callable[[], datetime], state: TxState) -> None:
        self.conn = conn
        self.now = clock
        self.state = state

    async def upsert(self, table: Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        """Update the row with `key`, or insert it; safe against a concurrent insert."""
        where = [table.c[name] == value for name, value in key.items()]
        update = table.update().where(*where).values(**values)
        if (await self.conn.execute(update)).rowcount:
            return
        if not await self.insert_new(table.insert().values(**key, **values)):
            await self.conn.execute(update)  # someone inserted it meanwhile; ours is newer

    async def insert_new(self, *statements: Executable) -> bool:
        """Run inserts in a savepoint; False (and nothing written) if a unique key was taken.

        Check-then-insert alone races on PostgreSQL, where two writers can both see "absent";
        the savepoint keeps the outer transaction usable after the loser's conflict.
        """
        try:
            async with self.conn.begin_nested():
                for statement in statements:
                    await self.conn.execute(statement)
        except IntegrityError as exc:
            if not is_duplicate(exc):
                raise
            return False
        return True

    async def config_version(self) -> str:
        """The version of rarely changing data (topics, FAQ) this transaction sees."""
        if self.state.version is None:
            query = sa.select(meta.c.value).where(meta.c.key == VERSION_KEY)
            row = (await self.conn.execute(query)).first()
            self.state.version = row.value if row else ""
        return self.state.version

    async def cached(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`'s result, shared with other transactions until the config version moves."""
        version = await self.config_version()
        hit = self.state.cache.get(name)
        if hit is not None and hit[0] == version:
            return hit[1]  # type: ignore[no-any-return]
        value = await load()
        self.state.cache[name] = (version, value)
        return value

    async def bump_version(self) -> None:
        """Cached topics and FAQ are stale: every process reloads them on its next event."""
        version = uuid.uuid4().hex
        await Repo.upsert(self, meta, {"key": VERSION_KEY}, {"value": version})
        self.state.version = version
