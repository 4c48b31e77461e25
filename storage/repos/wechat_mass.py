"""WeChat mass sends: the calls a broadcast plans for followers outside the window, the
per-follower monthly count that keeps each under a service account's 4, a subscription
account's one send a day, and what WeChat reports back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.records import MassJob, aware
from storage.repos.base import Repo
from storage.repos.routes import day_of, month_of
from storage.schema import messages as m
from storage.schema import wechat_mass_counts as counts
from storage.schema import wechat_mass_days as days
from storage.schema import wechat_mass_jobs as jobs

CHUNK = 10_000  # OpenIDs per call (WeChat: 2 to 10,000)
IN_LIST = 500  # addresses per IN (…) when counting


# A call WeChat has yet to settle: made or to be made, or held for an administrator.
OPEN = ("pending", "sending", "confirming")


def _job(row: Any) -> MassJob:
    return MassJob(
        row.id, row.broadcast_id, row.clientmsgid, row.text, list(row.chats), row.status,
        row.attempts, row.msg_id, row.total, row.sent, row.errors, row.filtered, row.error,
        row.topic, aware(row.confirm_since),
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

    async def plan_tag(self, broadcast_id: int, topic: str, text: str, chats: list[str]) -> None:
        """A subscription account's one call of the day, to `topic`'s tag (`chats`: the
        followers it reaches, for the record). No followers: the day is given back."""
        if not chats:
            await self.release_day(broadcast_id)
            return
        now = self.now()
        await self.conn.execute(
            jobs.insert().values(
                broadcast_id=broadcast_id, clientmsgid=f"b{broadcast_id}-tag-{topic}",
                text=text, chats=chats, status="pending", attempts=0, created_at=now,
                updated_at=now, topic=topic,
            )
        )  # fmt: skip

    async def day_taken_by(self, now: datetime) -> int | None:
        """The broadcast that has the day's send, if any."""
        query = sa.select(days.c.broadcast_id).where(days.c.day == day_of(now))
        return (await self.conn.execute(query)).scalar()

    async def claim_day(self, now: datetime, broadcast_id: int) -> bool:
        """The day's send for `broadcast_id`: True when it is free or already its own."""
        if await self.insert_new(days.insert().values(day=day_of(now), broadcast_id=broadcast_id)):
            return True
        return await self.day_taken_by(now) == broadcast_id

    async def release_day(self, broadcast_id: int) -> None:
        """The day's send was not made after all (refused, cancelled, nobody to reach)."""
        await self.conn.execute(days.delete().where(days.c.broadcast_id == broadcast_id))

    async def most_used(self, addresses: Any) -> int:
        """The most mass sends any of `addresses` (a SELECT of addresses) had this month."""
        query = sa.select(sa.func.max(counts.c.count)).where(
            counts.c.month == month_of(self.now()), counts.c.chat.in_(addresses)
        )
        return int((await self.conn.execute(query)).scalar() or 0)

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
                jobs.c.status.in_(("pending", "confirming")),
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

    async def wait(self, job_id: int, at: datetime, why: str) -> None:
        """Not tried after all (its followers are still being tagged, another process sends
        now): pending again at `at`, the try not counted."""
        await self._set(
            job_id, status="pending", next_attempt_at=at, error=why, lease_until=None,
            attempts=jobs.c.attempts - 1,
        )  # fmt: skip

    async def confirming(self, job_id: int, at: datetime, why: str) -> datetime:
        """WeChat holds the call for an administrator to confirm: asked again at `at`.
        Returns since when it has waited."""
        job = await self.get(job_id)
        since = (job.confirm_since if job else None) or self.now()
        await self._set(
            job_id, status="confirming", next_attempt_at=at, error=why, lease_until=None,
            confirm_since=since,
        )  # fmt: skip
        return since

    async def failed(self, job_id: int, why: str, *, keep_day: bool = False) -> None:
        """WeChat refused the call: none of its followers got it, and their month's count
        (a tag's: the day, unless WeChat says the day's send is spent) is given back; their
        rows say why."""
        job = await self.get(job_id)
        if job is None:
            return
        await self._set(job_id, status="failed", error=why, lease_until=None)
        await self._undo(job, "failed", f"wechat mass send: {why}", keep_day=keep_day)

    async def _undo(
        self, job: MassJob, status: str, error: str | None, *, keep_day: bool = False
    ) -> None:
        """The call will not be made: its followers' month (a tag's: the day) is given
        back, and their rows take `status` (with `error`)."""
        month = month_of(await self._created(job.id))
        if job.topic is not None and not keep_day:
            await self.release_day(job.broadcast_id)
        for start in range(0, len(job.chats), IN_LIST):
            chunk = job.chats[start : start + IN_LIST]
            if job.topic is None:
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
        pending = [
            j
            for j in await self.of_broadcast(broadcast_id)
            if j.status in ("pending", "confirming")
        ]
        for job in pending:
            taken = await self.conn.execute(
                jobs.update()
                .where(jobs.c.id == job.id, jobs.c.status == job.status)
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
