"""The message archive: every inbound and outbound message, with its delivery state.

Inbound rows move `received -> handled | failed`; outbound rows move
`pending -> [queued ->] sending -> sent | failed | blocked | ambiguous | cancelled`. A row
being worked on carries a lease (owner, until): only rows whose lease ran out are taken
over. A bulk row is `queued` while claimed but not yet tried, and `sending` from just
before its first call: after a crash only `sending` ones may have arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from storage.records import StoredMessage, aware
from storage.repos.base import Repo, is_duplicate
from storage.schema import messages as m

# Literals, not parameters: the planners only use the partial index when they can see them.
_OUT = m.c.direction == sa.literal_column("'out'")
_IN = m.c.direction == sa.literal_column("'in'")
_PENDING = m.c.status == sa.literal_column("'pending'")
_SENDING = m.c.status == sa.literal_column("'sending'")
_HELD = m.c.status.in_((sa.literal_column("'sending'"), sa.literal_column("'queued'")))
_RECEIVED = m.c.status == sa.literal_column("'received'")
FINAL_OUT = frozenset({"sent", "failed", "blocked", "ambiguous", "cancelled"})


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
        bulk=bool(row.bulk),
        priority=row.priority,
        lease_owner=row.lease_owner,
        updated_at=aware(row.updated_at),
        dedupe_key=row.dedupe_key,
    )


def _same_columns(values: list[dict[str, Any]]) -> None:
    """An executemany takes its columns from the first row: every row must name the same."""
    first = set(values[0])
    if any(set(v) != first for v in values):
        raise ValueError("rows of one batch must set the same columns")


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)  # SQLite compares the stored text: always UTC


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
        _same_columns(values)
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
        _same_columns(values)
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

    async def get_many(self, ids: Iterable[int]) -> list[StoredMessage]:
        wanted = list(ids)
        if not wanted:
            return []
        rows = await self.conn.execute(sa.select(m).where(m.c.id.in_(wanted)).order_by(m.c.id))
        return [_message(r) for r in rows]

    # ---- outbox: claims, leases, outcomes ---------------------------------------------------

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
        now = _utc(self.now())
        due = (
            sa.select(m.c.id)
            .where(
                m.c.channel == channel,
                _OUT,
                _PENDING,
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
            .where(m.c.id == picked.c.id, _PENDING)
            .values(
                # Replies may be resent after a crash anyway; bulk rows wait to be launched.
                status=sa.case((m.c.bulk, "queued"), else_="sending"),
                lease_owner=owner,
                lease_until=_utc(lease_until),
                updated_at=now,
            )
            .returning(*m.c)
        )
        rows = [_message(r) for r in await self.conn.execute(statement)]
        return sorted(rows, key=lambda r: (r.bulk, -r.priority, r.id))

    async def mark_sending(self, owner: str, ids: Sequence[int]) -> None:
        """Bulk rows about to be tried: from now on a crash leaves them `ambiguous`."""
        if ids:
            await self.conn.execute(
                m.update()
                .where(m.c.id.in_(list(ids)), m.c.lease_owner == owner)
                .where(m.c.status == sa.literal_column("'queued'"))
                .values(status="sending")
            )

    async def finish_many(self, owner: str, outcomes: Sequence[dict[str, Any]]) -> None:
        """Write send outcomes of rows we hold: each dict has id, status, error, platform_id,
        tries (platform calls made) and next_attempt_at (for rows going back to pending).
        Rows whose lease another process took over are left alone."""
        if not outcomes:
            return
        statement = (
            m.update()
            .where(m.c.id == sa.bindparam("b_id"), m.c.lease_owner == owner, _HELD)
            .values(
                status=sa.bindparam("b_status"),
                error=sa.func.coalesce(sa.bindparam("b_error"), m.c.error),
                platform_id=sa.func.coalesce(sa.bindparam("b_platform_id"), m.c.platform_id),
                attempts=m.c.attempts + sa.bindparam("b_tries"),
                next_attempt_at=sa.bindparam("b_next"),
                lease_owner=None,
                lease_until=None,
                updated_at=self.now(),
            )
        )
        params = [
            {
                "b_id": o["id"],
                "b_status": o["status"],
                "b_error": o.get("error"),
                "b_platform_id": o.get("platform_id"),
                "b_tries": o.get("tries", 0),
                "b_next": _utc(o["next_attempt_at"]) if o.get("next_attempt_at") else None,
            }
            for o in outcomes
        ]
        await self.conn.execute(statement, params)  # executemany: no reliable rowcount

    async def renew_leases(self, owner: str, until: datetime) -> int:
        """Keep every row we work on ours for longer (one statement for all of them)."""
        result = await self.conn.execute(
            m.update()
            .where(m.c.lease_owner == owner, m.c.status.in_(("sending", "queued", "received")))
            .values(lease_until=_utc(until))
        )
        return int(result.rowcount)

    async def release(self, owner: str, ids: Sequence[int] | None = None) -> int:
        """Hand rows we claimed but did not try back to `pending` (a clean shutdown)."""
        query = m.update().where(m.c.lease_owner == owner, _HELD)
        if ids is not None:
            query = query.where(m.c.id.in_(list(ids)))
        result = await self.conn.execute(
            query.values(status="pending", lease_owner=None, lease_until=None)
        )
        inbound = await self.conn.execute(
            m.update()
            .where(m.c.lease_owner == owner, _RECEIVED)
            .values(lease_owner=None, lease_until=None)
        )
        return int(result.rowcount) + int(inbound.rowcount)

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
        now = _utc(self.now())
        expired = sa.or_(m.c.lease_until.is_(None), m.c.lease_until < now)
        if dead:
            expired = sa.or_(expired, m.c.lease_owner.in_(list(dead)))
        where = [_OUT, expired]
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
            .where(*where, _SENDING, m.c.bulk.is_(False))
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
            .where(*where, _SENDING, m.c.bulk.is_(True))
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
            m.c.channel == channel, _OUT, _PENDING
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

    # ---- inbox: recovery and outcomes -------------------------------------------------------

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
        now leased to `owner`; `attempts` counts the handling tries they have had. With
        `channels`, only rows of those channels or of `chats`."""
        now = _utc(self.now())
        expired = sa.or_(m.c.lease_until.is_(None), m.c.lease_until < now)
        if dead:
            expired = sa.or_(expired, m.c.lease_owner.in_(list(dead)))
        mine = sa.or_(m.c.lease_owner.is_(None), m.c.lease_owner != owner)  # queued with us
        due = sa.select(m.c.id).where(_IN, _RECEIVED, expired, mine).order_by(m.c.id).limit(limit)
        if channels is not None:
            due = due.where(sa.or_(m.c.channel.in_(list(channels)), m.c.chat.in_(list(chats))))
        picked = self._locked(due)
        statement = (
            m.update()
            .where(m.c.id == picked.c.id, _RECEIVED)
            .values(
                lease_owner=owner,
                lease_until=_utc(lease_until),
                attempts=m.c.attempts + 1,
                updated_at=now,
            )
            .returning(*m.c)
        )
        return sorted((_message(r) for r in await self.conn.execute(statement)), key=lambda r: r.id)

    async def mark_handled_many(self, handled: Sequence[tuple[int, int | None]]) -> None:
        """(message id, client id) pairs we handled: `received -> handled`."""
        if not handled:
            return
        statement = (
            m.update()
            .where(m.c.id == sa.bindparam("b_id"), _RECEIVED)
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

    async def failed(self, *, direction: str = "in", limit: int = 100) -> list[StoredMessage]:
        """The newest rows given up on (quarantined events, undeliverable messages)."""
        statuses = ("failed",) if direction == "in" else ("failed", "ambiguous")
        rows = await self.conn.execute(
            sa.select(m)
            .where(m.c.direction == direction, m.c.status.in_(statuses))
            .order_by(m.c.id.desc())
            .limit(limit)
        )
        return [_message(r) for r in rows]

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
