"""WeChat mass sends: the calls a broadcast plans for followers outside the window, the
per-follower monthly count that keeps each under WeChat's 4, and what WeChat reports back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.records import MassJob, aware
from storage.repos.base import Repo
from storage.repos.routes import month_of
from storage.schema import messages as m
from storage.schema import wechat_mass_counts as counts
from storage.schema import wechat_mass_jobs as jobs

CHUNK = 10_000  # OpenIDs per call (WeChat: 2 to 10,000)
IN_LIST = 500  # addresses per IN (…) when counting


def _job(row: Any) -> MassJob:
    return MassJob(
        row.id, row.broadcast_id, row.clientmsgid, row.text, list(row.chats), row.status,
        row.attempts, row.msg_id, row.total, row.sent, row.errors, row.filtered, row.error,
    )  # fmt: skip


class WechatMassRepo(Repo):
    async def plan(self, broadcast_id: int, language: str, text: str, chats: list[str]) -> int:
        """The calls for `chats` (a broadcast's followers of one language), each counted
        against their month at once, so no later push plans a 5th. Returns the calls."""
        now = self.now()
        month = month_of(now)
        for start in range(0, len(chats), IN_LIST):
            await self._count(chats[start : start + IN_LIST], month)
        planned = 0
        for n, start in enumerate(range(0, len(chats), CHUNK)):
            await self.conn.execute(
                jobs.insert().values(
                    broadcast_id=broadcast_id,
                    clientmsgid=f"b{broadcast_id}-{language}-{n}",
                    text=text,
                    chats=chats[start : start + CHUNK],
                    status="pending",
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            planned += 1
        return planned

    async def _count(self, chats: list[str], month: str) -> None:
        where = sa.and_(counts.c.month == month, counts.c.chat.in_(chats))
        await self.conn.execute(counts.update().where(where).values(count=counts.c.count + 1))
        seen = {r.chat for r in await self.conn.execute(sa.select(counts.c.chat).where(where))}
        fresh = [{"chat": c, "month": month, "count": 1} for c in chats if c not in seen]
        if fresh and not await self.insert_new(counts.insert().values(fresh)):
            await self._count([c["chat"] for c in fresh], month)  # another writer got there

    async def claim(self, lease: timedelta) -> MassJob | None:
        """The oldest call due (pending, or one whose sender died mid-call), leased to us."""
        now = self.now()
        due = sa.or_(
            sa.and_(
                jobs.c.status == "pending",
                sa.or_(jobs.c.next_attempt_at.is_(None), jobs.c.next_attempt_at <= now),
            ),
            sa.and_(jobs.c.status == "sending", jobs.c.lease_until < now),
        )
        row = (
            await self.conn.execute(sa.select(jobs.c.id).where(due).order_by(jobs.c.id).limit(1))
        ).first()
        if row is None:
            return None
        taken = await self.conn.execute(
            jobs.update()
            .where(jobs.c.id == row.id, due)
            .values(
                status="sending",
                lease_until=now + lease,
                attempts=jobs.c.attempts + 1,
                updated_at=now,
            )
        )
        if not taken.rowcount:
            return None  # another process claimed it first
        return await self.get(row.id)

    async def get(self, job_id: int) -> MassJob | None:
        row = (await self.conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).first()
        return _job(row) if row else None

    async def accepted(self, job_id: int, msg_id: str | None) -> None:
        """WeChat took the call; its outcome comes later as MASSSENDJOBFINISH."""
        await self._set(job_id, status="sent", msg_id=msg_id, lease_until=None)

    async def again(self, job_id: int, at: datetime, why: str) -> None:
        """Nothing (or maybe something, under the same clientmsgid) was sent: try later."""
        await self._set(job_id, status="pending", next_attempt_at=at, error=why, lease_until=None)

    async def failed(self, job_id: int, why: str) -> None:
        """WeChat refused the call: none of its followers got it, and their month's count is
        given back; their rows say why."""
        job = await self.get(job_id)
        if job is None:
            return
        await self._set(job_id, status="failed", error=why, lease_until=None)
        await self._undo(job, "failed", f"wechat mass send: {why}")

    async def _undo(self, job: MassJob, status: str, error: str | None) -> None:
        """The call will not be made: its followers' month is given back, and their rows
        take `status` (with `error`)."""
        month = month_of(await self._created(job.id))
        for start in range(0, len(job.chats), IN_LIST):
            chunk = job.chats[start : start + IN_LIST]
            await self.conn.execute(
                counts.update()
                .where(counts.c.month == month, counts.c.chat.in_(chunk), counts.c.count > 0)
                .values(count=counts.c.count - 1)
            )
            await self.conn.execute(
                m.update()
                .where(
                    m.c.broadcast_id == job.broadcast_id, m.c.chat.in_(chunk), m.c.status == "mass"
                )
                .values(status=status, error=error, updated_at=self.now())
            )

    async def cancel(self, broadcast_id: int) -> int:
        """A stopped broadcast's calls not yet made are not made; the months are given
        back and the rows cancelled. Returns the calls cancelled."""
        pending = [j for j in await self.of_broadcast(broadcast_id) if j.status == "pending"]
        for job in pending:
            taken = await self.conn.execute(
                jobs.update()
                .where(jobs.c.id == job.id, jobs.c.status == "pending")
                .values(status="cancelled", updated_at=self.now())
            )
            if taken.rowcount:
                await self._undo(job, "cancelled", None)
        return len(pending)

    async def finished(self, msg_id: str, status: str, figures: dict[str, int]) -> bool:
        """WeChat's report of a call (MASSSENDJOBFINISH): totals only, once."""
        result = await self.conn.execute(
            jobs.update()
            .where(jobs.c.msg_id == msg_id, jobs.c.status == "sent")
            .values(
                status="done" if status == "send success" else "failed",
                error=None if status == "send success" else status,
                total=figures.get("TotalCount"),
                filtered=figures.get("FilterCount"),
                sent=figures.get("SentCount"),
                errors=figures.get("ErrorCount"),
                updated_at=self.now(),
            )
        )
        return bool(result.rowcount)

    async def of_broadcast(self, broadcast_id: int) -> list[MassJob]:
        query = sa.select(jobs).where(jobs.c.broadcast_id == broadcast_id).order_by(jobs.c.id)
        return [_job(r) for r in await self.conn.execute(query)]

    async def _created(self, job_id: int) -> datetime:
        value = (
            await self.conn.execute(sa.select(jobs.c.created_at).where(jobs.c.id == job_id))
        ).scalar()
        return aware(value) or self.now()  # type: ignore[return-value]

    async def _set(self, job_id: int, **values: Any) -> None:
        await self.conn.execute(
            jobs.update().where(jobs.c.id == job_id).values(updated_at=self.now(), **values)
        )
