"""The message archive: every inbound and outbound message, with its delivery state.

Inbound rows move `received -> handled | failed`; outbound rows as in `storage.repos.outbox`.
A row being worked on carries a lease (owner, until): only rows whose lease ran out are
taken over.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from storage.records import StoredMessage
from storage.repos.inbox import InboxQueries
from storage.repos.message_inserts import MessageInserts
from storage.repos.message_rows import FINAL_OUT, message_of
from storage.repos.outbox import OutboxQueries
from storage.schema import messages as m

__all__ = ["FINAL_OUT", "MessageRepo"]  # queries by concern: inbox.py, outbox.py


class MessageRepo(MessageInserts, InboxQueries, OutboxQueries):
    async def get_many(self, ids: Iterable[int]) -> list[StoredMessage]:
        wanted = list(ids)
        if not wanted:
            return []
        rows = await self.conn.execute(sa.select(m).where(m.c.id.in_(wanted)).order_by(m.c.id))
        return [message_of(r) for r in rows]

    async def failed(self, *, direction: str = "in", limit: int = 100) -> list[StoredMessage]:
        """The newest rows given up on (quarantined events, undeliverable messages)."""
        statuses = ("failed",) if direction == "in" else ("failed", "ambiguous")
        rows = await self.conn.execute(
            sa.select(m)
            .where(m.c.direction == direction, m.c.status.in_(statuses))
            .order_by(m.c.id.desc())
            .limit(limit)
        )
        return [message_of(r) for r in rows]

    async def undelivered_replies(self, after: int, limit: int = 20) -> list[StoredMessage]:
        """Replies to people (not broadcasts) given up on since row `after`, oldest first."""
        rows = await self.conn.execute(
            sa.select(m)
            .where(
                m.c.direction == "out",
                m.c.bulk.is_(False),
                m.c.status.in_(("failed", "ambiguous")),
                m.c.id > after,
            )
            .order_by(m.c.id)
            .limit(limit)
        )
        return [message_of(r) for r in rows]

    async def lock(self, ids: list[int]) -> None:
        """Keep these rows as records only (an erased client's messages)."""
        await self.conn.execute(m.update().where(m.c.id.in_(ids)).values(locked=True))

    async def get(self, message_id: int) -> StoredMessage | None:
        row = (await self.conn.execute(sa.select(m).where(m.c.id == message_id))).first()
        return message_of(row) if row else None

    async def by_platform_id(self, chat: str, platform_id: str) -> StoredMessage | None:
        """Our message in `chat` that the platform numbered `platform_id`."""
        query = sa.select(m).where(
            m.c.chat == chat, m.c.platform_id == platform_id, m.c.direction == "out"
        )
        row = (await self.conn.execute(query.order_by(m.c.id.desc()).limit(1))).first()
        return message_of(row) if row else None

    async def set_status(
        self,
        message_id: int,
        status: str,
        *,
        error: str | None = None,
        platform_id: str | None = None,
        client_id: int | None = None,
        expect: str | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Move a message to `status`; with `expect`, only from that status (a compare-and-set).
        `not_before` keeps a pending row from being tried again too early."""
        values: dict[str, Any] = {
            "status": status,
            "updated_at": self.now(),
            "error": error,
            "next_attempt_at": not_before,
        }
        if platform_id is not None:
            values["platform_id"] = platform_id
        if client_id is not None:
            values["client_id"] = client_id
        query = m.update().where(m.c.id == message_id)
        if expect is not None:
            query = query.where(m.c.status == expect)
        if status == "sending":
            values["attempts"] = m.c.attempts + 1
        result = await self.conn.execute(query.values(**values))
        return bool(result.rowcount)

    async def with_status(
        self,
        direction: str,
        status: str,
        *,
        channel: str | None = None,
        due: datetime | None = None,
        limit: int = 500,
    ) -> list[StoredMessage]:
        """Rows in `status`, oldest first; with `due`, only those that may be tried by then."""
        query = (
            sa.select(m)
            .where(m.c.direction == direction, m.c.status == status)
            .order_by(m.c.id)
            .limit(limit)
        )
        if channel is not None:
            query = query.where(m.c.channel == channel)
        if due is not None:
            due = due.astimezone(UTC)
            query = query.where(sa.or_(m.c.next_attempt_at.is_(None), m.c.next_attempt_at <= due))
        return [message_of(r) for r in await self.conn.execute(query)]

    async def last_outbound_with_buttons(self, chat: str) -> StoredMessage | None:
        """The message to `chat` whose buttons a typed number refers to (numbered-reply
        fallbacks): the one with buttons among the newest answer's parts. A later message
        without buttons (an advisor's relayed words, say) means there are no options."""
        rows = await self.conn.execute(
            sa.select(m)
            .where(m.c.direction == "out", m.c.chat == chat)
            .order_by(m.c.id.desc())
            .limit(5)
        )
        newest = None
        for row in rows:
            newest = newest or row
            if row.reply_to != newest.reply_to:
                break  # an earlier answer's options are no longer on screen
            if row.payload and row.payload.get("buttons"):
                return message_of(row)
        return None

    async def for_chat(self, chat: str, *, limit: int = 100) -> list[StoredMessage]:
        rows = await self.conn.execute(
            sa.select(m).where(m.c.chat == chat).order_by(m.c.id.desc()).limit(limit)
        )
        return [message_of(r) for r in reversed(list(rows))]

    async def for_chat_statuses(self, direction: str = "out") -> list[tuple[str, str]]:
        """(chat, status) of every row in one direction (reports and benchmarks)."""
        rows = await self.conn.execute(
            sa.select(m.c.chat, m.c.status).where(m.c.direction == direction).order_by(m.c.id)
        )
        return [(r.chat, r.status) for r in rows]

    async def count(self, **where: Any) -> int:
        query = sa.select(sa.func.count()).select_from(m)
        for name, value in where.items():
            query = query.where(m.c[name] == value)
        return int((await self.conn.execute(query)).scalar_one())
