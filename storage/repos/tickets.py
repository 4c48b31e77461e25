"""Tickets: complaints and consultations, their numbers and their history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from storage.records import Ticket, TicketEvent, aware
from storage.repos.base import Repo
from storage.schema import clients, ticket_counters, ticket_events, tickets

ACTIVE = ("open", "claimed", "waiting")
_TIMES = ("due_at", "created_at", "responded_at", "resolved_at", "closed_at")
_FIELDS = tuple(f for f in Ticket.__dataclass_fields__)


def _ticket(row: Any) -> Ticket:
    values = {f: getattr(row, f) for f in _FIELDS}
    for name in _TIMES:
        values[name] = aware(values[name])
    return Ticket(**values)


def _order(query: sa.Select[Any]) -> sa.Select[Any]:
    """VIP first, then the oldest due."""
    return query.order_by(tickets.c.vip.desc(), tickets.c.due_at, tickets.c.id)


class TicketRepo(Repo):
    async def next_number(self, prefix: str, day: str) -> str:
        """`TS-20261128-0007`: numbers per prefix and day, unique under concurrent writers
        (the counter row is written in the caller's write transaction)."""
        key = f"{prefix}-{day}"
        bump = (
            ticket_counters.update()
            .where(ticket_counters.c.key == key)
            .values(last=ticket_counters.c.last + 1)
            .returning(ticket_counters.c.last)
        )
        row = (await self.conn.execute(bump)).first()
        if row is None:
            if await self.insert_new(ticket_counters.insert().values(key=key, last=1)):
                return f"{key}-0001"
            row = (await self.conn.execute(bump)).first()
        return f"{key}-{row.last:04d}"  # type: ignore[union-attr]

    async def create(self, *, actor: str, **values: Any) -> Ticket:
        now = self.now()
        values = {
            "status": "open",
            "claimed": False,
            "breach_alerted": False,
            "locked": False,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        result = await self.conn.execute(tickets.insert().values(**values))
        ticket_id = int(result.inserted_primary_key[0])
        await self.event(ticket_id, actor, "opened", values.get("text"))
        return await self.get(ticket_id)  # type: ignore[return-value]

    async def get(self, ticket_id: int) -> Ticket | None:
        """A ticket still in use (an erased client's are records only)."""
        query = sa.select(tickets).where(tickets.c.id == ticket_id, tickets.c.locked.is_(False))
        row = (await self.conn.execute(query)).first()
        return _ticket(row) if row else None

    async def by_number(self, number: str) -> Ticket | None:
        query = sa.select(tickets).where(
            tickets.c.number == number.strip().upper(), tickets.c.locked.is_(False)
        )
        row = (await self.conn.execute(query)).first()
        return _ticket(row) if row else None

    async def by_unanswered(self, unanswered_id: int) -> Ticket | None:
        query = sa.select(tickets).where(tickets.c.unanswered_id == unanswered_id).limit(1)
        row = (await self.conn.execute(query)).first()
        return _ticket(row) if row else None

    async def of_client(self, client_id: int, limit: int = 20) -> list[Ticket]:
        query = (
            sa.select(tickets)
            .where(tickets.c.client_id == client_id, tickets.c.locked.is_(False))
            .order_by(tickets.c.id.desc())
            .limit(limit)
        )
        return [_ticket(r) for r in await self.conn.execute(query)]

    async def in_conversation(self, client_id: int) -> Ticket | None:
        """The ticket a client's free text belongs to: one an advisor has answered and that
        is still open, the most recent."""
        query = (
            sa.select(tickets)
            .where(
                tickets.c.client_id == client_id,
                tickets.c.status.in_(("claimed", "waiting")),
                tickets.c.responded_at.is_not(None),
            )
            .order_by(tickets.c.updated_at.desc(), tickets.c.id.desc())
            .limit(1)
        )
        row = (await self.conn.execute(query)).first()
        return _ticket(row) if row else None

    async def listing(
        self,
        *,
        statuses: Sequence[str] = ACTIVE,
        advisor: str | None = None,
        breached_at: datetime | None = None,
        limit: int = 30,
    ) -> list[Ticket]:
        query = sa.select(tickets).where(
            tickets.c.status.in_(statuses), tickets.c.locked.is_(False)
        )
        if advisor is not None:
            query = query.where(tickets.c.advisor == advisor)
        if breached_at is not None:
            query = query.where(tickets.c.responded_at.is_(None), tickets.c.due_at < breached_at)
        return [_ticket(r) for r in await self.conn.execute(_order(query).limit(limit))]

    async def unassigned(self, limit: int = 50) -> list[Ticket]:
        """Active tickets that came in while nobody was on duty."""
        query = sa.select(tickets).where(
            tickets.c.status.in_(ACTIVE), tickets.c.advisor.is_(None), tickets.c.locked.is_(False)
        )
        return [_ticket(r) for r in await self.conn.execute(_order(query).limit(limit))]

    async def loads(self, advisors: Sequence[str]) -> dict[str, int]:
        """Active tickets held by each of `advisors` (0 for those with none)."""
        if not advisors:
            return {}
        query = (
            sa.select(tickets.c.advisor, sa.func.count())
            .where(tickets.c.advisor.in_(advisors), tickets.c.status.in_(ACTIVE))
            .group_by(tickets.c.advisor)
        )
        counts = {a: 0 for a in advisors}
        counts.update({r[0]: int(r[1]) for r in await self.conn.execute(query)})
        return counts

    async def update(self, ticket_id: int, *, when: Any = None, **values: Any) -> bool:
        """Change a ticket; `when` is an extra condition (a claim must find it unclaimed).
        False when the condition did not hold."""
        statement = tickets.update().where(tickets.c.id == ticket_id)
        if when is not None:
            statement = statement.where(when)
        result = await self.conn.execute(statement.values(updated_at=self.now(), **values))
        return bool(result.rowcount)

    async def rate(self, ticket_id: int, rating: int) -> bool:
        """Keep a rating unless the ticket has one: a second rating (or two at once) is
        refused, never added or counted twice."""
        return await self.update(ticket_id, when=tickets.c.rating.is_(None), rating=rating)

    async def claim(self, ticket_id: int, advisor: str) -> bool:
        """Exactly one of several advisors claiming at once wins."""
        return await self.update(
            ticket_id,
            when=sa.and_(tickets.c.claimed.is_(False), tickets.c.status.in_(ACTIVE)),
            advisor=advisor,
            claimed=True,
            status="claimed",
        )

    async def requeue(self, advisor: str) -> list[Ticket]:
        """Take every active ticket away from `advisor` (their role was revoked)."""
        held = await self.listing(advisor=advisor, limit=10_000)
        if held:
            await self.conn.execute(
                tickets.update()
                .where(tickets.c.id.in_([t.id for t in held]))
                .values(advisor=None, claimed=False, status="open", updated_at=self.now())
            )
        return held

    async def event(
        self,
        ticket_id: int,
        actor: str,
        action: str,
        text: str | None = None,
        message_id: int | None = None,
    ) -> None:
        await self.conn.execute(
            ticket_events.insert().values(
                ticket_id=ticket_id,
                at=self.now(),
                actor=actor,
                action=action,
                text=text,
                message_id=message_id,
            )
        )

    async def history(self, ticket_id: int) -> list[TicketEvent]:
        query = (
            sa.select(ticket_events)
            .where(ticket_events.c.ticket_id == ticket_id)
            .order_by(ticket_events.c.id)
        )
        return [
            TicketEvent(aware(r.at), r.actor, r.action, r.text, r.message_id)  # type: ignore[arg-type]
            for r in await self.conn.execute(query)
        ]

    async def due_breaches(self, now: datetime, limit: int = 100) -> list[Ticket]:
        """Unanswered past their first-response time and not yet reported: each is marked
        here, so one alert goes out however many processes look."""
        query = sa.select(tickets.c.id).where(
            tickets.c.status.in_(("open", "claimed")),
            tickets.c.responded_at.is_(None),
            tickets.c.due_at < now,
            tickets.c.breach_alerted.is_(False),
        )
        marked = []
        for row in (await self.conn.execute(_order(query).limit(limit))).all():
            if await self.update(
                row.id, when=tickets.c.breach_alerted.is_(False), breach_alerted=True
            ):
                marked.append(await self.get(row.id))
        return [t for t in marked if t is not None]

    async def close_resolved(self, before: datetime, limit: int = 500) -> list[Ticket]:
        """Resolved tickets nobody reopened in time become closed."""
        query = (
            sa.select(tickets)
            .where(tickets.c.status == "resolved", tickets.c.resolved_at < before)
            .limit(limit)
        )
        found = [_ticket(r) for r in await self.conn.execute(query)]
        closed = []
        for ticket in found:
            now = self.now()
            if await self.update(
                ticket.id, when=tickets.c.status == "resolved", status="closed", closed_at=now
            ):
                await self.event(ticket.id, "system", "closed")
                closed.append(ticket)
        return closed

    async def month(self, kind: str, start: datetime, end: datetime) -> list[tuple[Ticket, str]]:
        """A month's tickets of one kind, oldest first, with the client's display name."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)  # stored as UTC
        query = (
            sa.select(tickets, clients.c.display_name.label("client_name"))
            .join(clients, clients.c.id == tickets.c.client_id)
            .where(
                tickets.c.kind == kind,
                tickets.c.created_at >= start,
                tickets.c.created_at < end,
            )
            .order_by(tickets.c.id)
        )
        return [(_ticket(r), r.client_name or "") for r in await self.conn.execute(query)]

    async def lock_client(self, client_id: int) -> None:
        """An erased client's tickets stay as records (the complaint form must be kept),
        closed, without the address or phone, hidden from everything else."""
        now = self.now()
        await self.conn.execute(
            tickets.update()
            .where(tickets.c.client_id == client_id, tickets.c.status.in_(ACTIVE))
            .values(status="closed", closed_at=now)
        )
        await self.conn.execute(
            tickets.update()
            .where(tickets.c.client_id == client_id)
            .values(locked=True, contact=None, chat="", updated_at=now)
        )
