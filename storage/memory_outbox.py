"""The outbox store in memory: the reference the SQL store is held to (one contract suite runs
over both), and the store the delivery engine's unit tests run on, in virtual time.

Rows are `StoredMessage`s replaced whole on every change; a row's lease expiry, which the
record does not carry, is kept beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from storage.records import Outcome, StoredMessage

HELD = ("sending", "queued")


class MemoryOutbox:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.rows: dict[int, StoredMessage] = {}
        self.until: dict[int, datetime | None] = {}  # row leases
        self.leases: dict[str, tuple[str, datetime]] = {}  # name -> (owner, until)
        self._ids = itertools.count(1)

    def now(self) -> datetime:
        return self.clock()

    def _set(self, row: StoredMessage, **changes: Any) -> None:
        self.rows[row.id] = replace(row, **changes)

    def _out(self, channel: str, chats: Sequence[str] | None) -> Iterable[StoredMessage]:
        wanted = None if chats is None else set(chats)
        for row in self.rows.values():
            if row.channel == channel and (wanted is None or row.chat in wanted):
                yield row

    async def add(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        now = self.clock()
        ids: list[int] = []
        for values in rows:
            row_id = next(self._ids)
            self.rows[row_id] = StoredMessage(
                id=row_id,
                direction="out",
                channel=values["channel"],
                chat=values["chat"],
                sender=None,
                client_id=values.get("client_id"),
                kind=values.get("kind", "text"),
                text=values.get("text"),
                payload=dict(values.get("payload") or {}),
                status=values.get("status", "pending"),
                attempts=values.get("attempts", 0),
                created_at=values.get("created_at", now),
                reply_to=values.get("reply_to"),
                locked=values.get("locked", False),
                next_attempt_at=values.get("next_attempt_at"),
                bulk=values.get("bulk", False),
                priority=values.get("priority", 0),
                lease_owner=values.get("lease_owner"),
                updated_at=now,
            )
            self.until[row_id] = values.get("lease_until")
            ids.append(row_id)
        return ids

    async def get_many(self, ids: Sequence[int]) -> list[StoredMessage]:
        return [self.rows[i] for i in sorted(set(ids)) if i in self.rows]

    async def claim(
        self,
        channel: str,
        *,
        owner: str,
        until: datetime,
        limit: int,
        chats: Sequence[str] | None = None,
    ) -> tuple[list[StoredMessage], datetime | None]:
        now = self.clock()
        due = [
            r
            for r in self._out(channel, chats)
            if r.status == "pending" and (r.next_attempt_at is None or r.next_attempt_at <= now)
        ]
        due.sort(key=lambda r: (r.bulk, -r.priority, r.id))
        for row in due[:limit]:
            status = "queued" if row.bulk else "sending"
            self._set(row, status=status, lease_owner=owner, updated_at=now)
            self.until[row.id] = until
        taken = [self.rows[r.id] for r in due[:limit]]
        if len(taken) == limit:
            return taken, None
        waiting = [
            r.next_attempt_at or r.created_at
            for r in self._out(channel, chats)
            if r.status == "pending"
        ]
        return taken, min(waiting, default=None)

    async def mark_sending(self, owner: str, ids: Sequence[int]) -> set[int]:
        ours = set()
        for row_id in ids:
            row = self.rows.get(row_id)
            if row is not None and row.lease_owner == owner and row.status == "queued":
                self._set(row, status="sending")
                ours.add(row_id)
        return ours

    async def finish(
        self,
        owner: str,
        outcomes: Sequence[Outcome],
        then: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        if then is not None:  # hooks write in the database's transaction; there is none here
            raise NotImplementedError("the in-memory outbox runs no transaction hooks")
        self._finish(owner, outcomes)
        for old, new in sorted({(o.moved_from, o.chat) for o in outcomes if o.moved_from}):
            for row in list(self.rows.values()):
                if row.chat == old and row.status == "pending" and new is not None:
                    self._set(row, chat=new, updated_at=self.clock())

    def _finish(self, owner: str, outcomes: Sequence[Outcome]) -> None:
        now = self.clock()
        for o in outcomes:
            row = self.rows.get(o.id)
            if row is None or row.lease_owner != owner or row.status not in HELD:
                continue  # another process took it over
            self._set(
                row,
                status=o.status,
                error=o.error if o.error is not None else row.error,
                platform_id=o.platform_id if o.platform_id is not None else row.platform_id,
                chat=o.chat if o.moved_from and o.chat else row.chat,
                attempts=row.attempts + o.tries,
                next_attempt_at=o.next_attempt_at,
                lease_owner=None,
                updated_at=now,
            )
            self.until[o.id] = None

    async def renew(
        self,
        owner: str,
        until: datetime,
        *,
        unwritten: Sequence[Outcome] = (),
        leases: Sequence[str] = (),
        dead: Sequence[str] = (),
    ) -> set[str]:
        for row in self.rows.values():
            if row.lease_owner == owner and row.status in HELD:
                self.until[row.id] = until
        self._finish(owner, unwritten)
        now = self.clock()
        held: set[str] = set()
        for name in leases:
            holder = self.leases.get(name)
            if holder is None or holder[0] == owner or holder[1] < now or holder[0] in dead:
                self.leases[name] = (owner, until)
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
        now = self.clock()
        requeued = ambiguous = 0
        for row in list(self._out(channel, chats)):
            until = self.until.get(row.id)
            if not (until is None or until < now or row.lease_owner in dead):
                continue
            if keep is not None and row.lease_owner == keep:
                continue
            if row.status == "queued":
                self._set(row, status="pending", lease_owner=None)
            elif row.status == "sending" and not row.bulk:
                error = "the process sending it stopped; sent again"
                self._set(row, status="pending", lease_owner=None, error=error, updated_at=now)
            elif row.status == "sending":
                error = "the process sending it stopped mid-send; it may have arrived"
                self._set(row, status="ambiguous", lease_owner=None, error=error, updated_at=now)
                ambiguous += 1
                self.until[row.id] = None
                continue
            else:
                continue
            requeued += 1
            self.until[row.id] = None
        return requeued, ambiguous

    async def release(
        self, owner: str, ids: Sequence[int] | None = None, *, leases: Sequence[str] = ()
    ) -> int:
        wanted = None if ids is None else set(ids)
        released = 0
        for row in list(self.rows.values()):
            if row.lease_owner != owner or row.status not in HELD:
                continue
            if wanted is not None and row.id not in wanted:
                continue
            self._set(row, status="pending", lease_owner=None)
            self.until[row.id] = None
            released += 1
        for name in leases:
            if self.leases.get(name, ("", None))[0] == owner:
                del self.leases[name]
        return released

    async def owners(self) -> set[str]:
        held = {r.lease_owner for r in self.rows.values() if r.status in HELD and r.lease_owner}
        return held | {owner for owner, _ in self.leases.values()}
