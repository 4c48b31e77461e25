"""Writing messages into the archive: single rows and whole batches in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from storage.repos.base import Repo, is_duplicate
from storage.repos.message_rows import same_columns
from storage.schema import messages as m


class MessageInserts(Repo):
    async def record_inbound(
        self,
        *,
        channel: str,
        chat: str,
        sender: str | None,
        kind: str,
        text: str | None,
        payload: dict[str, Any],
        dedupe_key: str | None,
        platform_id: str | None = None,
    ) -> int | None:
        """Archive an inbound message; None when `dedupe_key` was seen before (a redelivery)."""
        now = self.now()
        values = {
            "direction": "in",
            "channel": channel,
            "chat": chat,
            "sender": sender,
            "kind": kind,
            "text": text,
            "payload": payload,
            "status": "received",
            "attempts": 0,
            "dedupe_key": dedupe_key,
            "platform_id": platform_id,
            "locked": False,
            "created_at": now,
            "updated_at": now,
        }
        try:
            # A savepoint keeps the surrounding transaction usable on PostgreSQL after a conflict.
            async with self.conn.begin_nested():
                result = await self.conn.execute(m.insert().values(**values))
        except IntegrityError as exc:
            if not is_duplicate(exc):
                raise
            return None
        return int(result.inserted_primary_key[0])

    def _insert(self) -> Any:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(m)

    async def record_many(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """Archive inbound rows (values as for `record_inbound`, plus lease and attempts) in
        one statement; a row whose `dedupe_key` was seen before (or earlier in the same
        batch) gets None."""
        now = self.now()
        values = [
            {
                "direction": "in",
                "sender": None,
                "platform_id": None,
                "status": "received",
                "attempts": 0,
                "locked": False,
                "lease_owner": None,
                "lease_until": None,
                "client_id": None,
                "created_at": now,
                "updated_at": now,
                **row,
            }
            for row in rows
        ]
        same_columns(values)
        keyed = [v for v in values if v.get("dedupe_key")]
        ids: dict[str, int] = {}
        if keyed:
            statement = (
                self._insert()
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(m.c.id, m.c.dedupe_key)
            )
            ids = {r.dedupe_key: r.id for r in await self.conn.execute(statement, keyed)}
        unkeyed = [v for v in values if not v.get("dedupe_key")]
        fresh: list[int] = []
        if unkeyed:
            fresh = await self._insert_ids(unkeyed)
        result: list[int | None] = []
        for v in values:
            key = v.get("dedupe_key")
            result.append(ids.pop(key, None) if key else fresh.pop(0))
        return result

    async def add_outbound_many(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Write outbound rows in one statement; ids in the order given. A row may arrive
        already claimed (`status="sending"` with a lease) by the process that will send it."""
        if not rows:
            return []
        now = self.now()
        values = [
            {
                "direction": "out",
                "sender": None,
                "client_id": None,
                "kind": "text",
                "status": "pending",
                "attempts": 0,
                "reply_to": None,
                "locked": False,
                "bulk": False,
                "priority": 0,
                "lease_owner": None,
                "lease_until": None,
                "next_attempt_at": None,
                "created_at": now,
                "updated_at": now,
                **row,
            }
            for row in rows
        ]
        same_columns(values)
        if any(v["status"] == "pending" for v in values):  # not those already claimed
            self.state.unannounced = True
        return await self._insert_ids(values)

    async def _insert_ids(self, values: list[dict[str, Any]]) -> list[int]:
        """Insert rows in one statement (per page of them); their ids in the order given.

        SQLAlchemy can only promise RETURNING order on SQLite by inserting row by row; but
        SQLite numbers the rows of one multi-row INSERT in the order of its VALUES (a single
        writer, each new rowid the largest so far plus one), so ascending ids are that order.
        """
        if self.conn.dialect.name == "sqlite":
            rows = await self.conn.execute(m.insert().returning(m.c.id), values)
            return sorted(r.id for r in rows)
        statement = m.insert().returning(m.c.id, sort_by_parameter_order=True)
        return [r.id for r in await self.conn.execute(statement, values)]

    async def add_outbound(
        self,
        *,
        channel: str,
        chat: str,
        text: str,
        payload: dict[str, Any],
        client_id: int | None = None,
        reply_to: int | None = None,
        kind: str = "text",
    ) -> int:
        now = self.now()
        self.state.unannounced = True
        result = await self.conn.execute(
            m.insert().values(
                direction="out",
                channel=channel,
                chat=chat,
                sender=None,
                client_id=client_id,
                kind=kind,
                text=text,
                payload=payload,
                status="pending",
                attempts=0,
                reply_to=reply_to,
                locked=False,
                created_at=now,
                updated_at=now,
            )
        )
        return int(result.inserted_primary_key[0])
