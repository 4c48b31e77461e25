"""Notes written ahead for the morning and evening slots, and the record of scheduled fires."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from storage.records import aware
from storage.repos.base import Repo
from storage.schema import notes, schedule_runs


@dataclass(frozen=True, slots=True)
class Note:
    slot: str
    day: dt.date
    text: str
    author: str
    broadcast_id: int | None


class RhythmRepo(Repo):
    async def note(self, slot: str, day: dt.date) -> Note | None:
        query = sa.select(notes).where(notes.c.slot == slot, notes.c.day == day)
        row = (await self.conn.execute(query)).first()
        return Note(row.slot, row.day, row.text, row.author, row.broadcast_id) if row else None

    async def save_note(self, slot: str, day: dt.date, text: str, author: str) -> bool:
        """Write (or rewrite) a slot's note; True when it is new."""
        existed = await self.note(slot, day) is not None
        await self.upsert(
            notes,
            {"slot": slot, "day": day},
            {"text": text, "author": author, "updated_at": self.now(), "broadcast_id": None},
        )
        return not existed

    async def upcoming_notes(self, since: dt.date, limit: int = 20) -> list[Note]:
        query = sa.select(notes).where(notes.c.day >= since).order_by(notes.c.day, notes.c.slot)
        return [
            Note(r.slot, r.day, r.text, r.author, r.broadcast_id)
            for r in await self.conn.execute(query.limit(limit))
        ]

    async def unsent_notes(self, until: dt.date, limit: int = 100) -> list[Note]:
        """Notes up to `until` that have not gone out, oldest first."""
        query = (
            sa.select(notes)
            .where(notes.c.day <= until, notes.c.broadcast_id.is_(None))
            .order_by(notes.c.day, notes.c.slot)
            .limit(limit)
        )
        return [
            Note(r.slot, r.day, r.text, r.author, r.broadcast_id)
            for r in await self.conn.execute(query)
        ]

    async def mark_sent(self, slot: str, day: dt.date, broadcast_id: int) -> None:
        await self.conn.execute(
            notes.update()
            .where(notes.c.slot == slot, notes.c.day == day)
            .values(broadcast_id=broadcast_id)
        )

    async def claim_fire(
        self, job: str, fire_time: dt.datetime, outcome: str, detail: str | None = None
    ) -> bool:
        """Record a fire; False when it was recorded already (another process, a restart)."""
        return await self.insert_new(
            schedule_runs.insert().values(
                job=job,
                fire_time=fire_time.astimezone(dt.UTC),
                outcome=outcome,
                detail=detail,
                at=self.now(),
            )
        )

    async def set_outcome(
        self, job: str, fire_time: dt.datetime, outcome: str, detail: str | None
    ) -> None:
        await self.conn.execute(
            schedule_runs.update()
            .where(
                schedule_runs.c.job == job,
                schedule_runs.c.fire_time == fire_time.astimezone(dt.UTC),
            )
            .values(outcome=outcome, detail=detail)
        )

    async def fired(self, job: str, fire_time: dt.datetime) -> str | None:
        query = sa.select(schedule_runs.c.outcome).where(
            schedule_runs.c.job == job, schedule_runs.c.fire_time == fire_time.astimezone(dt.UTC)
        )
        row = (await self.conn.execute(query)).first()
        return row.outcome if row else None

    async def ran_before(self, job: str, fire_time: dt.datetime) -> bool:
        query = sa.select(schedule_runs.c.job).where(
            schedule_runs.c.job == job, schedule_runs.c.fire_time < fire_time.astimezone(dt.UTC)
        )
        return (await self.conn.execute(query.limit(1))).first() is not None

    async def recent_runs(self, limit: int = 20) -> list[tuple[str, dt.datetime, str, str | None]]:
        query = sa.select(schedule_runs).order_by(schedule_runs.c.fire_time.desc()).limit(limit)
        return [
            (r.job, aware(r.fire_time), r.outcome, r.detail)  # type: ignore[misc]
            for r in await self.conn.execute(query)
        ]
