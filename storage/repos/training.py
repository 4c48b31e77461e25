"""Non-farm day training: the session, the answers, seats and the waiting list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import clients, training_rsvps, training_sessions
from storage.schema import messages as m

rs = training_rsvps


@dataclass(frozen=True, slots=True)
class Session:
    day: dt.date
    place: str
    time: str
    seats: int
    broadcast_id: int | None


@dataclass(frozen=True, slots=True)
class Promoted:
    """A client moved from the waiting list into a seat: where to tell them, in which language."""

    chat: str
    language: str


def _session(row: Any) -> Session:
    return Session(row.day, row.place, row.time, row.seats, row.broadcast_id)


class TrainingRepo(Repo):
    async def session(self, day: dt.date) -> Session | None:
        query = sa.select(training_sessions).where(training_sessions.c.day == day)
        row = (await self.conn.execute(query)).first()
        return _session(row) if row else None

    async def ensure(self, day: dt.date, *, place: str, time: str, seats: int) -> Session:
        if await self.session(day) is None:
            await self.insert_new(
                training_sessions.insert().values(day=day, place=place, time=time, seats=seats)
            )
        return await self.session(day)  # type: ignore[return-value]

    async def update(self, day: dt.date, **values: object) -> None:
        await self.conn.execute(
            training_sessions.update().where(training_sessions.c.day == day).values(**values)
        )

    async def upcoming(self, since: dt.date) -> list[Session]:
        query = (
            sa.select(training_sessions)
            .where(training_sessions.c.day >= since)
            .order_by(training_sessions.c.day)
        )
        return [_session(r) for r in await self.conn.execute(query)]

    async def open_for(self, client_id: int, since: dt.date) -> Session | None:
        """The latest session from `since` on that this client was invited to (a row of its
        invitation went to them) or has answered: what a typed "参加" is about."""
        ts = training_sessions
        invited = sa.exists().where(
            m.c.broadcast_id == ts.c.broadcast_id, m.c.client_id == client_id
        )
        answered = sa.exists().where(rs.c.day == ts.c.day, rs.c.client_id == client_id)
        query = (
            sa.select(ts)
            .where(ts.c.day >= since, sa.or_(invited, answered))
            .order_by(ts.c.day.desc())
            .limit(1)
        )
        row = (await self.conn.execute(query)).first()
        return _session(row) if row else None

    async def answer(
        self, day: dt.date, client_id: int, chat: str, answer: str
    ) -> tuple[str, list[Promoted]]:
        """Record an answer; (the client's status, who was promoted from the waiting list
        into the seat it freed, if any). Seats go in the order people said yes."""
        session = await self.session(day)
        if session is None:
            raise LookupError(day)
        now = self.now()
        before = await self._status(day, client_id)
        status = "none"
        if answer == "attend":
            if before in ("seat", "waiting"):
                return before, []  # pressing yes again keeps one's place
            status = "seat" if await self.count(day, "seat") < session.seats else "waiting"
        values = {"chat": chat, "answer": answer, "status": status, "at": now}
        updated = await self.conn.execute(
            rs.update().where(rs.c.day == day, rs.c.client_id == client_id).values(**values)
        )
        if not updated.rowcount:
            await self.conn.execute(rs.insert().values(day=day, client_id=client_id, **values))
        promoted = await self.fill(day) if before == "seat" and status != "seat" else []
        return status, promoted

    async def _status(self, day: dt.date, client_id: int) -> str | None:
        reply = await self.reply(day, client_id)
        return reply[1] if reply else None

    async def reply(self, day: dt.date, client_id: int) -> tuple[str, str] | None:
        """(answer, status) of a client's reply to a session, or None before they answered."""
        query = sa.select(rs.c.answer, rs.c.status).where(
            rs.c.day == day, rs.c.client_id == client_id
        )
        row = (await self.conn.execute(query)).first()
        return (row.answer, row.status) if row else None

    async def count(self, day: dt.date, status: str) -> int:
        query = sa.select(sa.func.count()).where(rs.c.day == day, rs.c.status == status)
        return int((await self.conn.execute(query)).scalar() or 0)

    async def fill(self, day: dt.date) -> list[Promoted]:
        """Give free seats to the waiting list, first come first served (after a seat was
        freed or seats were added); who got one."""
        session = await self.session(day)
        free = session.seats - await self.count(day, "seat") if session else 0
        if free <= 0:
            return []
        query = (
            sa.select(rs.c.client_id, rs.c.chat, clients.c.language)
            .join(clients, clients.c.id == rs.c.client_id)
            .where(rs.c.day == day, rs.c.status == "waiting")
            .order_by(rs.c.at, rs.c.client_id)
            .limit(free)
        )
        rows = (await self.conn.execute(query)).all()
        if rows:
            await self.conn.execute(
                rs.update()
                .where(rs.c.day == day, rs.c.client_id.in_([r.client_id for r in rows]))
                .values(status="seat")
            )
        return [Promoted(str(r.chat), r.language or "zh") for r in rows]

    async def attendees(self, day: dt.date) -> list[tuple[str, str, str, str, dt.datetime]]:
        """(name, chat, answer, status, at) in queue order."""
        query = (
            sa.select(clients.c.display_name, rs.c.chat, rs.c.answer, rs.c.status, rs.c.at)
            .join(clients, clients.c.id == rs.c.client_id)
            .where(rs.c.day == day)
            .order_by(rs.c.at, rs.c.client_id)
        )
        return [
            (r.display_name or "", r.chat, r.answer, r.status, r.at)
            for r in await self.conn.execute(query)
        ]
