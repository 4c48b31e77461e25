"""Retention: what is past its keeping period, found and deleted a batch at a time.

Three kinds. `messages`: archive rows (in and out) older than the cut-off that are finished
(handled or failed; sent, failed, blocked, ambiguous or cancelled), never one an open ticket
relayed. `erased`: a client erased before the cut-off, with every record still kept for them
(locked tickets and their steps, messages, answers) and the emptied file itself; never a
client who was not erased, nor one with a ticket still open. `audit`: audit log entries
older than the cut-off.

Candidates are read without the write lock (a cursor on the id, so a whole run reads each
row once); a delete names its rows by id and checks the rule again, so a row that changed
meanwhile stays, and running twice deletes once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.repos.message_rows import FINAL_OUT
from storage.repos.tickets import ACTIVE
from storage.schema import (
    audit_log,
    clients,
    metadata,
    staff_viewing,
    ticket_events,
    tickets,
)
from storage.schema import messages as m

FINAL_IN = ("handled", "failed")
# Every other table holding a client's rows by client_id, deleted before the client itself
# (read from the schema, so a table added later is not left holding the row; dependents first).
_BY_CLIENT = tuple(
    table
    for table in reversed(metadata.sorted_tables)
    if "client_id" in table.c and table.name not in (tickets.name, m.name)
)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _message_due(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    relayed_open = (
        sa.select(ticket_events.c.message_id)
        .join(tickets, tickets.c.id == ticket_events.c.ticket_id)
        .where(tickets.c.status.in_(ACTIVE), ticket_events.c.message_id.is_not(None))
    )
    return sa.and_(
        m.c.created_at < _utc(cutoff),
        sa.or_(
            sa.and_(m.c.direction == "in", m.c.status.in_(FINAL_IN)),
            sa.and_(m.c.direction == "out", m.c.status.in_(sorted(FINAL_OUT))),
        ),
        m.c.id.not_in(relayed_open),
    )


def _erased_due(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    open_ticket = sa.select(tickets.c.id).where(
        tickets.c.client_id == clients.c.id, tickets.c.status.in_(ACTIVE)
    )
    return sa.and_(
        clients.c.erased_at.is_not(None),
        clients.c.erased_at < _utc(cutoff),
        ~sa.exists(open_ticket),
    )


class RetentionRepo(Repo):
    # --- the message archive -------------------------------------------------------------

    async def messages_due(self, cutoff: dt.datetime, after: int, limit: int) -> list[int]:
        """Up to `limit` ids past `after` of archive rows past their period."""
        query = sa.select(m.c.id).where(m.c.id > after, _message_due(cutoff))
        return list((await self.conn.execute(query.order_by(m.c.id).limit(limit))).scalars())

    async def delete_messages(self, ids: Sequence[int], cutoff: dt.datetime) -> int:
        if not ids:
            return 0
        result = await self.conn.execute(m.delete().where(m.c.id.in_(ids), _message_due(cutoff)))
        return int(result.rowcount or 0)

    async def count_messages(
        self, cutoff: dt.datetime, erased_cutoff: dt.datetime | None = None
    ) -> int:
        """Archive rows past their period, besides those of erased clients past theirs (given
        `erased_cutoff`: they go with the client, and are counted there)."""
        query = sa.select(sa.func.count()).select_from(m).where(_message_due(cutoff))
        if erased_cutoff is not None:
            gone = sa.select(clients.c.id).where(_erased_due(erased_cutoff))
            query = query.where(sa.or_(m.c.client_id.is_(None), m.c.client_id.not_in(gone)))
        return int((await self.conn.execute(query)).scalar_one())

    # --- erased clients ------------------------------------------------------------------

    async def erased_due(self, cutoff: dt.datetime, after: int, limit: int) -> list[int]:
        """Ids of erased clients (past `after`) whose keeping period is over."""
        query = sa.select(clients.c.id).where(clients.c.id > after, _erased_due(cutoff))
        return list((await self.conn.execute(query.order_by(clients.c.id).limit(limit))).scalars())

    async def count_erased(self, cutoff: dt.datetime) -> int:
        query = sa.select(sa.func.count()).select_from(clients).where(_erased_due(cutoff))
        return int((await self.conn.execute(query)).scalar_one())

    async def delete_client_messages(self, client_id: int, cutoff: dt.datetime, limit: int) -> int:
        """Up to `limit` of an erased client's archive rows (none unless still due)."""
        due = sa.select(clients.c.id).where(clients.c.id == client_id, _erased_due(cutoff))
        ids = sa.select(m.c.id).where(m.c.client_id == client_id, sa.exists(due)).limit(limit)
        found = list((await self.conn.execute(ids)).scalars())
        if not found:
            return 0
        result = await self.conn.execute(m.delete().where(m.c.id.in_(found)))
        return int(result.rowcount or 0)

    async def delete_client(self, client_id: int, cutoff: dt.datetime) -> bool:
        """The rest of an erased client's records and the emptied file; False when the client
        is not (or no longer) due, or still has archive rows (deleted in batches first)."""
        due = sa.select(clients.c.id).where(clients.c.id == client_id, _erased_due(cutoff))
        if (await self.conn.execute(due)).first() is None:
            return False
        left = sa.select(m.c.id).where(m.c.client_id == client_id).limit(1)
        if (await self.conn.execute(left)).first() is not None:
            return False
        mine = sa.select(tickets.c.id).where(tickets.c.client_id == client_id)
        await self.conn.execute(ticket_events.delete().where(ticket_events.c.ticket_id.in_(mine)))
        await self.conn.execute(staff_viewing.delete().where(staff_viewing.c.ticket_id.in_(mine)))
        await self.conn.execute(tickets.delete().where(tickets.c.client_id == client_id))
        for table in _BY_CLIENT:
            await self.conn.execute(table.delete().where(table.c.client_id == client_id))
        await self.conn.execute(clients.delete().where(clients.c.id == client_id))
        return True

    # --- the audit log -------------------------------------------------------------------

    async def audit_due(self, cutoff: dt.datetime, after: int, limit: int) -> list[int]:
        query = sa.select(audit_log.c.id).where(
            audit_log.c.id > after, audit_log.c.at < _utc(cutoff)
        )
        return list(
            (await self.conn.execute(query.order_by(audit_log.c.id).limit(limit))).scalars()
        )

    async def delete_audit(self, ids: Sequence[int], cutoff: dt.datetime) -> int:
        if not ids:
            return 0
        result = await self.conn.execute(
            audit_log.delete().where(audit_log.c.id.in_(ids), audit_log.c.at < _utc(cutoff))
        )
        return int(result.rowcount or 0)

    async def count_audit(self, cutoff: dt.datetime) -> int:
        query = (
            sa.select(sa.func.count()).select_from(audit_log).where(audit_log.c.at < _utc(cutoff))
        )
        return int((await self.conn.execute(query)).scalar_one())

    async def purged(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        """What the purges of [start, end) deleted, per kind (from their audit entries)."""
        query = sa.select(audit_log.c.detail).where(
            audit_log.c.action == "retention",
            audit_log.c.at >= _utc(start),
            audit_log.c.at < _utc(end),
        )
        total: dict[str, int] = {}
        for detail in (await self.conn.execute(query)).scalars():
            for kind, n in (detail or {}).get("purged", {}).items():
                total[kind] = total.get(kind, 0) + int(n)
        return total
