"""The inbox side of the message archive: taking over what a dead process left unhandled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from storage.records import StoredMessage
from storage.repos.base import Repo
from storage.repos.message_rows import IN, RECEIVED, message_of, utc
from storage.schema import messages as m


class InboxQueries(Repo):
    async def take_over_received(
        self,
        *,
        owner: str,
        lease_until: datetime,
        dead: Sequence[str] = (),
        channels: Sequence[str] | None = None,
        chats: Sequence[str] = (),
        limit: int = 1000,
    ) -> list[StoredMessage]:
        """Inbound rows recorded but never handled by a process that is gone, oldest first,
        now leased to `owner`. With
        `channels`, only rows of those channels or of `chats`."""
        now = utc(self.now())
        expired = sa.or_(m.c.lease_until.is_(None), m.c.lease_until < now)
        if dead:
            expired = sa.or_(expired, m.c.lease_owner.in_(list(dead)))
        mine = sa.or_(m.c.lease_owner.is_(None), m.c.lease_owner != owner)  # queued with us
        due = sa.select(m.c.id).where(IN, RECEIVED, expired, mine).order_by(m.c.id).limit(limit)
        if channels is not None:
            due = due.where(sa.or_(m.c.channel.in_(list(channels)), m.c.chat.in_(list(chats))))
        picked = self._locked(due)
        statement = (
            m.update()
            .where(m.c.id == picked.c.id, RECEIVED)
            .values(
                lease_owner=owner,
                lease_until=utc(lease_until),
                updated_at=now,
            )
            .returning(*m.c)
        )
        return sorted(
            (message_of(r) for r in await self.conn.execute(statement)), key=lambda r: r.id
        )

    async def count_attempt(self, message_id: int) -> int:
        """One more handling attempt of a recovered event starts: committed before it runs,
        so a crash in the middle still counts. Returns the attempts so far, this one too."""
        await self.conn.execute(
            m.update().where(m.c.id == message_id).values(attempts=m.c.attempts + 1)
        )
        row = (await self.conn.execute(sa.select(m.c.attempts).where(m.c.id == message_id))).one()
        return int(row.attempts)

    async def mark_handled_many(self, handled: Sequence[tuple[int, int | None]]) -> None:
        """(message id, client id) pairs we handled: `received -> handled`."""
        if not handled:
            return
        statement = (
            m.update()
            .where(m.c.id == sa.bindparam("b_id"), RECEIVED)
            .values(
                status="handled",
                client_id=sa.func.coalesce(sa.bindparam("b_client"), m.c.client_id),
                lease_owner=None,
                lease_until=None,
                updated_at=self.now(),
            )
        )
        params = [{"b_id": i, "b_client": c} for i, c in handled]
        await self.conn.execute(statement, params)
