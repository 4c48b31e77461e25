"""The inbox's lease store in memory: the reference `SqlInbox` is held to (one contract)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from storage.records import StoredMessage


class MemoryInbox:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.rows: dict[int, StoredMessage] = {}
        self.until: dict[int, datetime | None] = {}  # leases, which the record does not carry
        self._ids = itertools.count(1)

    async def record(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """Inbound rows; None for a `dedupe_key` seen before (as `record_many` does)."""
        seen = {r.dedupe_key for r in self.rows.values() if r.dedupe_key}
        now = self.clock()
        ids: list[int | None] = []
        for values in rows:
            key = values.get("dedupe_key")
            if key and key in seen:
                ids.append(None)
                continue
            seen.add(key)
            row_id = next(self._ids)
            self.rows[row_id] = StoredMessage(
                id=row_id,
                direction="in",
                channel=values["channel"],
                chat=values["chat"],
                sender=values.get("sender"),
                client_id=values.get("client_id"),
                kind=values.get("kind", "text"),
                text=values.get("text"),
                payload=dict(values.get("payload") or {}),
                status=values.get("status", "received"),
                attempts=values.get("attempts", 0),
                created_at=now,
                lease_owner=values.get("lease_owner"),
                updated_at=now,
                dedupe_key=key,
            )
            self.until[row_id] = values.get("lease_until")
            ids.append(row_id)
        return ids

    async def get_many(self, ids: Sequence[int]) -> list[StoredMessage]:
        return [self.rows[i] for i in sorted(set(ids)) if i in self.rows]

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
        now = self.clock()
        taken: list[StoredMessage] = []
        for row_id in sorted(self.rows):
            row = self.rows[row_id]
            lease = self.until.get(row_id)
            expired = lease is None or lease < now or row.lease_owner in dead
            if row.status != "received" or not expired or row.lease_owner == owner:
                continue
            if channels is not None and row.channel not in channels and row.chat not in chats:
                continue
            self.rows[row_id] = replace(row, lease_owner=owner, updated_at=now)
            self.until[row_id] = until
            taken.append(self.rows[row_id])
            if len(taken) == limit:
                break
        return taken

    async def count_attempt(self, message_id: int, *, max_tries: int, error: str) -> int:
        row = self.rows[message_id]
        attempts = row.attempts + 1
        changes: dict[str, Any] = {"attempts": attempts}
        if attempts > max_tries:
            changes.update(status="failed", error=error, updated_at=self.clock())
        self.rows[message_id] = replace(row, **changes)
        return attempts
