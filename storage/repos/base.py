"""Common base for repositories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable


def is_duplicate(exc: IntegrityError) -> bool:
    """A unique or primary key was taken (not, say, a foreign key violation)."""
    orig = exc.orig
    if getattr(orig, "pgcode", None) == "23505":
        return True
    name = getattr(orig, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return True
    return "UNIQUE constraint failed" in str(orig) or "duplicate key value" in str(orig)


class Repo:
    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self.conn = conn
        self.now = clock

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
