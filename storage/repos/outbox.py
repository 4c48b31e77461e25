"""The outbox side of the message archive: claims under a lease, outcomes, lease upkeep.

An outbound row moves `pending -> [queued ->] sending -> sent | failed | blocked | ambiguous |
cancelled`. A bulk row is `queued` while claimed but not yet tried, and `sending` from just
before its first call: after a crash only `sending` ones may have arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.records import Outcome, StoredMessage, aware
from storage.repos.base import Repo
from storage.repos.message_rows import HELD, IN, OUT, PENDING, RECEIVED, SENDING, message_of, utc
from storage.schema import identities
from storage.schema import messages as m


class OutboxQueries(Repo):
    def _locked(self, due: sa.Select[Any]) -> sa.CTE:
        """The rows to take, as a CTE evaluated once (PostgreSQL would re-run an `IN` subquery
        and take more than `limit`), skipping rows another claimer holds."""
        if self.conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        return due.cte("picked")

    async def claim(
        self,
        channel: str,
        *,
        owner: str,
        lease_until: datetime,
        limit: int,
        chats: Sequence[str] | None = None,
    ) -> list[StoredMessage]:
        """Take up to `limit` due pending rows of `channel` in delivery order (replies before
        bulk, higher priority first, oldest first): `pending -> sending` under our lease.
        Concurrent claimers never get the same row (SKIP LOCKED on PostgreSQL; SQLite has
        one writer at a time)."""
        now = utc(self.now())
        due = (
            sa.select(m.c.id)
            .where(
                m.c.channel == channel,
                OUT,
                PENDING,
                sa.or_(m.c.next_attempt_at.is_(None), m.c.next_attempt_at <= now),
            )
            .order_by(m.c.bulk, m.c.priority.desc(), m.c.id)
            .limit(limit)
        )
        if chats is not None:
            due = due.where(m.c.chat.in_(list(chats)))
        picked = self._locked(due)
        statement = (
            m.update()
            .where(m.c.id == picked.c.id, PENDING)
            .values(
                # Replies may be resent after a crash anyway; bulk rows wait to be launched.
                status=sa.case((m.c.bulk, "queued"), else_="sending"),
                lease_owner=owner,
                lease_until=utc(lease_until),
                updated_at=now,
            )
            .returning(*m.c)
        )
        rows = [message_of(r) for r in await self.conn.execute(statement)]
        return sorted(rows, key=lambda r: (r.bulk, -r.priority, r.id))

    async def mark_sending(self, owner: str, ids: Sequence[int]) -> set[int]:
        """Bulk rows about to be tried: from now on a crash leaves them `ambiguous`. Returns
        those still ours to send (a stopped broadcast cancels rows while they queue)."""
        if not ids:
            return set()
        result = await self.conn.execute(
            m.update()
            .where(m.c.id.in_(list(ids)), m.c.lease_owner == owner)
            .where(m.c.status == sa.literal_column("'queued'"))
            .values(status="sending")
            .returning(m.c.id)
        )
        return {r.id for r in result}

    async def move_chat(self, old: str, new: str) -> int:
        """A chat got a new address: its waiting rows and its identity follow."""
        result = await self.conn.execute(
            m.update()
            .where(m.c.chat == old, m.c.direction == "out", m.c.status == "pending")
            .values(chat=new, updated_at=self.now())
        )
        taken = await self.conn.execute(
            sa.select(identities.c.address).where(identities.c.address == new)
        )
        if taken.first() is None:
            await self.conn.execute(
                identities.update().where(identities.c.address == old).values(address=new)
            )
        return int(result.rowcount or 0)

    async def finish_many(self, owner: str, outcomes: Sequence[Outcome]) -> None:
        """Write send outcomes of rows we hold (a moved row takes its new chat). Rows whose
        lease another process took over are left alone."""
        if not outcomes:
            return
        statement = (
            m.update()
            .where(m.c.id == sa.bindparam("b_id"), m.c.lease_owner == owner, HELD)
            .values(
                status=sa.bindparam("b_status"),
                error=sa.func.coalesce(sa.bindparam("b_error"), m.c.error),
                platform_id=sa.func.coalesce(sa.bindparam("b_platform_id"), m.c.platform_id),
                chat=sa.func.coalesce(sa.bindparam("b_chat"), m.c.chat),
                attempts=m.c.attempts + sa.bindparam("b_tries"),
                next_attempt_at=sa.bindparam("b_next"),
                lease_owner=None,
                lease_until=None,
                updated_at=self.now(),
            )
        )
        params = [
            {
                "b_id": o.id,
                "b_status": o.status,
                "b_error": o.error,
                "b_platform_id": o.platform_id,
                "b_chat": o.chat if o.moved_from else None,
                "b_tries": o.tries,
                "b_next": utc(o.next_attempt_at) if o.next_attempt_at else None,
            }
            for o in outcomes
        ]
        await self.conn.execute(statement, params)  # executemany: no reliable rowcount

    async def renew_leases(self, owner: str, until: datetime) -> int:
        """Keep every row we work on ours for longer (one statement for all of them). The
        direction and status terms let the (direction, status) index find the few rows being
        worked on, instead of reading the whole archive."""
        working = sa.or_(sa.and_(OUT, HELD), sa.and_(IN, RECEIVED))
        result = await self.conn.execute(
            m.update().where(working, m.c.lease_owner == owner).values(lease_until=utc(until))
        )
        return int(result.rowcount)

    async def release(self, owner: str, ids: Sequence[int] | None = None) -> int:
        """Hand outbound rows we hold back to `pending` (these `ids`, or all of them), and
        with no `ids` our inbound leases too (a clean shutdown: the next start takes over
        at once)."""
        query = m.update().where(OUT, HELD, m.c.lease_owner == owner)
        if ids is not None:
            query = query.where(m.c.id.in_(list(ids)))
        result = await self.conn.execute(
            query.values(status="pending", lease_owner=None, lease_until=None)
        )
        released = int(result.rowcount)
        if ids is None:
            inbound = await self.conn.execute(
                m.update()
                .where(IN, RECEIVED, m.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
            released += int(inbound.rowcount)
        return released

    async def expire_sending(
        self,
        *,
        channel: str | None = None,
        dead: Sequence[str] = (),
        chats: Sequence[str] | None = None,
        keep: str | None = None,
    ) -> tuple[int, int]:
        """Rows left `sending` by a process that died (lease over, or owner known dead) may
        have left: a reply to a person goes back to pending (a doubled answer beats silence),
        a bulk delivery becomes `ambiguous`, never resent. Rows of `keep` (the caller, who
        still holds them) are never touched. Returns (requeued, ambiguous)."""
        now = utc(self.now())
        expired = sa.or_(m.c.lease_until.is_(None), m.c.lease_until < now)
        if dead:
            expired = sa.or_(expired, m.c.lease_owner.in_(list(dead)))
        where = [OUT, expired]
        if keep is not None:
            where.append(sa.or_(m.c.lease_owner.is_(None), m.c.lease_owner != keep))
        if channel is not None:
            where.append(m.c.channel == channel)
        if chats is not None:
            where.append(m.c.chat.in_(list(chats)))
        back = {"status": "pending", "lease_owner": None, "lease_until": None}
        untried = await self.conn.execute(
            m.update().where(*where, m.c.status == sa.literal_column("'queued'")).values(back)
        )
        requeued = await self.conn.execute(
            m.update()
            .where(*where, SENDING, m.c.bulk.is_(False))
            .values(
                status="pending",
                lease_owner=None,
                lease_until=None,
                error="the process sending it stopped; sent again",
                updated_at=now,
            )
        )
        ambiguous = await self.conn.execute(
            m.update()
            .where(*where, SENDING, m.c.bulk.is_(True))
            .values(
                status="ambiguous",
                lease_owner=None,
                lease_until=None,
                error="the process sending it stopped mid-send; it may have arrived",
                updated_at=now,
            )
        )
        return int(requeued.rowcount) + int(untried.rowcount), int(ambiguous.rowcount)

    async def next_due(self, channel: str, chats: Sequence[str] | None = None) -> datetime | None:
        """When the earliest pending row of `channel` falls due (None: nothing pending)."""
        query = sa.select(sa.func.min(sa.func.coalesce(m.c.next_attempt_at, m.c.created_at))).where(
            m.c.channel == channel, OUT, PENDING
        )
        if chats is not None:
            query = query.where(m.c.chat.in_(list(chats)))
        return aware((await self.conn.execute(query)).scalar_one())

    async def lease_owners(self) -> set[str]:
        """Owners of rows being worked on (to find those whose process is gone)."""
        rows = await self.conn.execute(
            sa.select(m.c.lease_owner)
            .where(m.c.direction.in_(("in", "out")))
            .where(m.c.status.in_(("sending", "queued", "received")))
            .where(m.c.lease_owner.is_not(None))
            .distinct()
        )
        return {r.lease_owner for r in rows}

    # ---- what waits (staff's /status, outage notices) -------------------------------------------

    async def waiting(self) -> dict[str, tuple[int, datetime]]:
        """Outbound rows not final yet, by channel: how many, and when the oldest was written."""
        rows = await self.conn.execute(
            sa.select(m.c.channel, sa.func.count(), sa.func.min(m.c.created_at))
            .where(OUT, m.c.status.in_(OPEN))
            .group_by(m.c.channel)
        )
        return {channel: (int(n), aware(oldest)) for channel, n, oldest in rows}  # type: ignore[misc]

    async def waited(self, channels: Sequence[str], until: datetime) -> int:
        """Outbound rows of `channels` written before `until` and not final then: open now,
        or finished since (what waited out an outage that ended at `until`)."""
        at = utc(until)
        query = sa.select(sa.func.count()).where(
            OUT,
            m.c.channel.in_(list(channels)),
            m.c.created_at <= at,
            sa.or_(m.c.status.in_(OPEN), m.c.updated_at >= at),
        )
        return int((await self.conn.execute(query)).scalar_one())


OPEN = ("pending", "queued", "sending")
