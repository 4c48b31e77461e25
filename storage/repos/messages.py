"""The message archive: every inbound and outbound message, with its delivery state.

Inbound rows move `received -> handled | failed`; outbound rows move
`pending -> sending -> sent | failed | blocked | ambiguous`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage.records import StoredMessage, aware
from storage.repos.base import Repo, is_duplicate
from storage.schema import messages as m


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        direction=row.direction,
        channel=row.channel,
        chat=row.chat,
        sender=row.sender,
        client_id=row.client_id,
        kind=row.kind,
        text=row.text,
        payload=dict(row.payload or {}),
        status=row.status,
        attempts=row.attempts,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        reply_to=row.reply_to,
        platform_id=row.platform_id,
        error=row.error,
        locked=row.locked,
        next_attempt_at=aware(row.next_attempt_at),
    )


class MessageRepo(Repo):
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

    async def lock(self, ids: list[int]) -> None:
        """Keep these rows as records only (an erased client's messages)."""
        await self.conn.execute(m.update().where(m.c.id.in_(ids)).values(locked=True))

    async def get(self, message_id: int) -> StoredMessage | None:
        row = (await self.conn.execute(sa.select(m).where(m.c.id == message_id))).first()
        return _message(row) if row else None

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
        return [_message(r) for r in await self.conn.execute(query)]

    async def mark_stale_sending(self, before: datetime) -> int:
        """After a crash we cannot know if a `sending` row left; call it ambiguous, never resend."""
        before = before.astimezone(UTC)  # SQLite compares wall-clock text: always UTC
        result = await self.conn.execute(
            m.update()
            .where(m.c.direction == "out", m.c.status == "sending", m.c.updated_at < before)
            .values(status="ambiguous", updated_at=self.now())
        )
        return int(result.rowcount)

    async def last_outbound_with_buttons(self, chat: str) -> StoredMessage | None:
        """The newest message to `chat` that offered buttons (for numbered-reply fallbacks)."""
        rows = await self.conn.execute(
            sa.select(m)
            .where(m.c.direction == "out", m.c.chat == chat)
            .order_by(m.c.id.desc())
            .limit(5)
        )
        for row in rows:
            if row.payload and row.payload.get("buttons"):
                return _message(row)
        return None

    async def for_chat(self, chat: str, *, limit: int = 100) -> list[StoredMessage]:
        rows = await self.conn.execute(
            sa.select(m).where(m.c.chat == chat).order_by(m.c.id.desc()).limit(limit)
        )
        return [_message(r) for r in reversed(list(rows))]

    async def count(self, **where: Any) -> int:
        query = sa.select(sa.func.count()).select_from(m)
        for name, value in where.items():
            query = query.where(m.c[name] == value)
        return int((await self.conn.execute(query)).scalar_one())
