"""The delivery engine's outbox store on the database: a thin adapter over the message and
lease repositories, one transaction per call (the same statements and transactions the
engine ran itself before it had a store)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from storage.database import Database
from storage.records import Outcome, StoredMessage
from storage.repos.reroute import FOR_GOOD
from storage.tx import Tx

# Run in the transaction that writes outcomes (hooks that must not lose what they write).
Then = Callable[[Tx], Awaitable[None]]


class SqlOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def now(self) -> datetime:
        return self.db.clock()

    async def add(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        async with self.db.write() as tx:
            return await tx.messages.add_outbound_many(rows)

    async def get_many(self, ids: Sequence[int]) -> list[StoredMessage]:
        async with self.db.read() as tx:
            return await tx.messages.get_many(ids)

    async def claim(
        self,
        channel: str,
        *,
        owner: str,
        until: datetime,
        limit: int,
        chats: Sequence[str] | None = None,
    ) -> tuple[list[StoredMessage], datetime | None]:
        """Up to `limit` due rows; when fewer, also when the next pending row falls due."""
        async with self.db.write() as tx:
            rows = await tx.messages.claim(
                channel, owner=owner, lease_until=until, limit=limit, chats=chats
            )
            if len(rows) == limit:
                return rows, None
            return rows, await tx.messages.next_due(channel, chats=chats)

    async def mark_sending(self, owner: str, ids: Sequence[int]) -> set[int]:
        async with self.db.write() as tx:
            return await tx.messages.mark_sending(owner, ids)

    async def finish(
        self, owner: str, outcomes: Sequence[Outcome], then: Then | None = None
    ) -> None:
        """Write outcomes; a moved row's chat moves with its other waiting rows; `then` runs
        in the same transaction."""
        if not outcomes and then is None:
            return  # no transaction for nothing (a clean shutdown, say)
        moves = sorted({(o.moved_from, o.chat) for o in outcomes if o.moved_from and o.chat})
        async with self.db.write() as tx:
            await tx.messages.finish_many(owner, outcomes)
            for old, new in moves:
                await tx.messages.move_chat(old, new)
            ended = [o.id for o in outcomes if o.status in FOR_GOOD]
            if ended:  # a push whose route is gone tries the client's next one, once
                await tx.reroute.reroute(ended)
            if then is not None:
                await then(tx)

    async def renew(
        self,
        owner: str,
        until: datetime,
        *,
        unwritten: Sequence[Outcome] = (),
        leases: Sequence[str] = (),
        dead: Sequence[str] = (),
    ) -> set[str]:
        """Renew every row lease of `owner`, write outcomes left unwritten, and take or keep
        the named leases (free, ours, or held by the `dead`); the names held now."""
        held: set[str] = set()
        async with self.db.write() as tx:
            await tx.messages.renew_leases(owner, until)
            if unwritten:
                await tx.messages.finish_many(owner, unwritten)
            for name in leases:
                if await tx.leases.acquire(name, owner, until, dead=tuple(dead)):
                    held.add(name)
        return held

    async def expire(
        self,
        channel: str,
        *,
        dead: Sequence[str] = (),
        chats: Sequence[str] | None = None,
        keep: str | None = None,
    ) -> tuple[int, int]:
        """Rows cut off by a dead process: replies back to pending, bulk `ambiguous`."""
        async with self.db.write() as tx:
            return await tx.messages.expire_sending(
                channel=channel, dead=dead, chats=chats, keep=keep
            )

    async def release(
        self, owner: str, ids: Sequence[int] | None = None, *, leases: Sequence[str] = ()
    ) -> int:
        """Hand held rows back to pending (these `ids`, or all, inbound leases too) and give
        up the named leases."""
        async with self.db.write() as tx:
            released = await tx.messages.release(owner, ids)
            for name in leases:
                await tx.leases.release(name, owner)
        return released

    async def owners(self) -> set[str]:
        """Every owner of a row or named lease (to find those whose process is gone)."""
        async with self.db.read() as tx:
            return await tx.messages.lease_owners() | await tx.leases.holders()
