"""The inbox's lease store on the database: one transaction per call, over the message repo."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.database import Database
from storage.records import StoredMessage


class SqlInbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        async with self.db.write() as tx:
            return await tx.messages.record_many(rows)

    async def get_many(self, ids: Sequence[int]) -> list[StoredMessage]:
        async with self.db.read() as tx:
            return await tx.messages.get_many(ids)

    async def take_over(
        self,
        *,
        owner: str,
        until: datetime,
        dead: Sequence[str] = (),
        channels: Sequence[str] | None = None,
        chats: Sequence[str] = (),
        limit: int = 1000,
    ) -> list[StoredMessage]:
        async with self.db.write() as tx:
            return await tx.messages.take_over_received(
                owner=owner,
                lease_until=until,
                dead=dead,
                channels=channels,
                chats=chats,
                limit=limit,
            )

    async def count_attempt(self, message_id: int, *, max_tries: int, error: str) -> int:
        async with self.db.write() as tx:
            attempts = await tx.messages.count_attempt(message_id)
            if attempts > max_tries:
                await tx.messages.set_status(message_id, "failed", error=error)
        return attempts
