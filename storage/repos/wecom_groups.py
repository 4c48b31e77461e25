"""WeCom group messages (客户联系): which advisor each client is a contact of, and the pushes
that go to a client as their advisor's group message. A broadcast plans one task per advisor
for their own clients; the advisor confirms it in the WeCom app; WeCom's results say who got
it. A client gets at most one a day; a task not confirmed in time is stopped, and its
clients are tried on another route."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.records import GroupJob, aware
from storage.repos.base import Repo
from storage.repos.routes import day_of
from storage.schema import advisors, clients, identities
from storage.schema import messages as m
from storage.schema import wecom_contacts as contacts
from storage.schema import wecom_group_days as days
from storage.schema import wecom_group_jobs as jobs

GROUP_WAIT = "group"  # a row whose client gets it as their advisor's group message
OPEN = ("pending", "sending", "waiting")
NOT_A_CONTACT = "wecom group message: the client is not the advisor's contact (any more)"
HAD_ONE = "wecom group message: the client already got a group message (WeCom's limit)"
UNCONFIRMED = "wecom group message: the advisor did not confirm it in time"
IN_LIST = 500


def _job(row: Any) -> GroupJob:
    return GroupJob(
        row.id, row.broadcast_id, row.userid, list(row.chats), row.text, row.status,
        row.msgid, row.attempts, aware(row.confirm_by), row.error,  # type: ignore[arg-type]
    )  # fmt: skip


class WecomGroupRepo(Repo):
    # ---- who is whose contact -----------------------------------------------------------------

    async def contact_added(self, chat: str, userid: str) -> None:
        await self.insert_new(
            contacts.insert().values(chat=chat, userid=userid, added_at=self.now())
        )

    async def contact_removed(self, chat: str, userid: str) -> None:
        await self.conn.execute(
            contacts.delete().where(contacts.c.chat == chat, contacts.c.userid == userid)
        )

    # ---- planning -----------------------------------------------------------------------------

    async def plan(
        self, broadcast_id: int, text: str, chats: Sequence[str], confirm_within: timedelta
    ) -> int:
        """One task per advisor for `chats` (each client to the advisor assigned to them if
        they are that advisor's contact, else the one they added last); each client's day
        is taken. Returns the tasks."""
        if not chats:
            return 0
        now = self.now()
        by_advisor: dict[str, list[str]] = {}
        for start in range(0, len(chats), IN_LIST):
            chunk = list(chats[start : start + IN_LIST])
            query = (
                sa.select(contacts.c.chat, contacts.c.userid)
                .select_from(
                    contacts.join(identities, identities.c.address == contacts.c.chat)
                    .join(clients, clients.c.id == identities.c.client_id)
                    .outerjoin(advisors, advisors.c.address == clients.c.advisor)
                )
                .where(contacts.c.chat.in_(chunk))
                .order_by(
                    contacts.c.chat,
                    sa.case((advisors.c.wecom_userid == contacts.c.userid, 0), else_=1),
                    contacts.c.added_at.desc(),
                )
            )
            chosen: dict[str, str] = {}
            for row in await self.conn.execute(query):
                chosen.setdefault(row.chat, row.userid)
            for chat, userid in chosen.items():
                by_advisor.setdefault(userid, []).append(chat)
            fresh = [{"chat": c, "day": day_of(now)} for c in chosen]
            if fresh:
                await self.insert_new(days.insert().values(fresh))
        for userid, mine in sorted(by_advisor.items()):
            await self.conn.execute(
                jobs.insert().values(
                    broadcast_id=broadcast_id, userid=userid, chats=mine, text=text,
                    status="pending", attempts=0, confirm_by=now + confirm_within,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
        return len(by_advisor)

    # ---- the sender's side --------------------------------------------------------------------

    async def claim(self, lease: timedelta) -> GroupJob | None:
        """A task to create (pending) or to ask about (waiting, its check due), leased. A
        task whose creation was under way when its lease ran out comes back with status
        `sending`: the call may have reached WeCom."""
        now = self.now()
        due = sa.or_(
            sa.and_(
                jobs.c.status.in_(("pending", "waiting")),
                sa.or_(jobs.c.next_at.is_(None), jobs.c.next_at <= now),
            ),
            sa.and_(jobs.c.status == "sending", jobs.c.lease_until < now),
        )
        row = (
            await self.conn.execute(sa.select(jobs).where(due).order_by(jobs.c.id).limit(1))
        ).first()
        if row is None:
            return None
        status = "sending" if row.status in ("pending", "sending") else "waiting"
        taken = await self.conn.execute(
            jobs.update()
            .where(jobs.c.id == row.id, due)
            .values(
                status=status, lease_until=now + lease, next_at=now + lease,
                attempts=jobs.c.attempts + 1, updated_at=now,
            )
        )  # fmt: skip
        return _job(row) if taken.rowcount else None

    async def created(
        self, job: GroupJob, msgid: str, refused: Sequence[str], at: datetime
    ) -> None:
        """WeCom made the task: it waits for the advisor; `refused`: not their contacts."""
        await self._set(job.id, status="waiting", msgid=msgid, next_at=at, lease_until=None)
        await self._rows(job, refused, "failed", NOT_A_CONTACT)

    async def check_later(self, job: GroupJob, at: datetime) -> None:
        await self._set(job.id, status="waiting", next_at=at, lease_until=None)

    async def again(self, job: GroupJob, at: datetime, why: str) -> None:
        await self._set(job.id, status="pending", next_at=at, error=why, lease_until=None)

    async def settled(self, job: GroupJob, outcome: dict[str, int]) -> None:
        """WeCom's results (external address -> 1 sent, 2 not a contact, 3 had one, 0 not
        sent): the rows take them, the task is done."""
        by = {1: ("sent", None), 2: ("failed", NOT_A_CONTACT), 3: ("failed", HAD_ONE)}
        groups: dict[tuple[str, str | None], list[str]] = {}
        for chat in job.chats:
            state = by.get(outcome.get(chat, 0), ("failed", UNCONFIRMED))
            groups.setdefault(state, []).append(chat)
        for (status, error), chats in groups.items():
            await self._rows(job, chats, status, error)
        await self._set(job.id, status="done", lease_until=None)

    async def expired(self, job: GroupJob) -> list[int]:
        """Not confirmed in time (and stopped at WeCom): the rows fail, for another route;
        returns their ids."""
        await self._set(job.id, status="expired", error=UNCONFIRMED, lease_until=None)
        return await self._rows(job, job.chats, "failed", UNCONFIRMED)

    async def failed(self, job: GroupJob, why: str) -> list[int]:
        """WeCom refused the task: nobody got it; the days are given back."""
        await self._set(job.id, status="failed", error=why, lease_until=None)
        for start in range(0, len(job.chats), IN_LIST):
            chunk = job.chats[start : start + IN_LIST]
            await self.conn.execute(
                days.delete().where(days.c.chat.in_(chunk), days.c.day == day_of(self.now()))
            )
        return await self._rows(job, job.chats, "failed", f"wecom group message: {why}")

    async def unknown(self, job: GroupJob, why: str) -> list[int]:
        """Whether WeCom made the task is not known (its answer was lost, or the process
        making it died before writing it down): never made again nor sent another way, so
        the rows are `ambiguous` and the clients' days stay taken. Returns the rows' ids."""
        await self._set(job.id, status="failed", error=why, lease_until=None)
        return await self._rows(job, job.chats, "ambiguous", f"wecom group message: {why}")

    async def of_broadcast(self, broadcast_id: int) -> list[GroupJob]:
        query = sa.select(jobs).where(jobs.c.broadcast_id == broadcast_id).order_by(jobs.c.id)
        return [_job(r) for r in await self.conn.execute(query)]

    async def _rows(
        self, job: GroupJob, chats: Sequence[str], status: str, error: str | None
    ) -> list[int]:
        ids: list[int] = []
        for start in range(0, len(chats), IN_LIST):
            where = sa.and_(
                m.c.broadcast_id == job.broadcast_id,
                m.c.chat.in_(list(chats[start : start + IN_LIST])),
                m.c.status == GROUP_WAIT,
            )
            ids += [r.id for r in await self.conn.execute(sa.select(m.c.id).where(where))]
            await self.conn.execute(
                m.update().where(where).values(status=status, error=error, updated_at=self.now())
            )
        return ids

    async def _set(self, job_id: int, **values: Any) -> None:
        await self.conn.execute(
            jobs.update().where(jobs.c.id == job_id).values(updated_at=self.now(), **values)
        )
