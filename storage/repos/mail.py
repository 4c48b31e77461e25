"""The mail outbox: e-mail kept until the relay took it (see `schema.mail_outbox`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.records import aware
from storage.repos.base import Repo
from storage.schema import mail_outbox


@dataclass(frozen=True, slots=True)
class Mail:
    id: int
    key: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[dict[str, str], ...]  # {"name", "type" (e.g. text/csv), "text"}
    status: str
    tries: int
    created_at: dt.datetime
    error: str | None = None
    told: bool = False


def _mail(r: Any) -> Mail:
    return Mail(
        r.id,
        r.key,
        tuple(r.recipients),
        r.subject,
        r.body,
        tuple(r.attachments),
        r.status,
        r.tries,
        aware(r.created_at),  # type: ignore[arg-type]
        r.error,
        r.told_at is not None,
    )


class MailRepo(Repo):
    async def add(
        self,
        key: str,
        recipients: Sequence[str],
        subject: str,
        body: str,
        attachments: Sequence[dict[str, str]] = (),
    ) -> bool:
        """Queue one e-mail; False when one with this key is queued already."""
        now = self.now()
        return await self.insert_new(
            mail_outbox.insert().values(
                key=key,
                recipients=list(recipients),
                subject=subject,
                body=body,
                attachments=list(attachments),
                status="pending",
                tries=0,
                next_at=now,
                created_at=now,
            )
        )

    async def claim(self, owner: str, until: dt.datetime, limit: int = 5) -> list[Mail]:
        """Due rows nobody holds, now held by `owner` until `until`; a row whose holder died
        mid-send is taken again when its lease ends (a doubled report beats a lost one)."""
        now = self.now()
        free = sa.or_(mail_outbox.c.lease_until.is_(None), mail_outbox.c.lease_until < now)
        due = (
            sa.select(mail_outbox.c.id)
            .where(mail_outbox.c.status == "pending", mail_outbox.c.next_at <= now, free)
            .order_by(mail_outbox.c.next_at, mail_outbox.c.id)
            .limit(limit)
        )
        ids = [r.id for r in await self.conn.execute(due)]
        taken: list[Mail] = []
        for row_id in ids:  # each by itself: another process may have taken it meanwhile
            result = await self.conn.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id == row_id, mail_outbox.c.status == "pending", free)
                .values(lease_owner=owner, lease_until=until)
            )
            if result.rowcount:
                query = sa.select(mail_outbox).where(mail_outbox.c.id == row_id)
                row = (await self.conn.execute(query)).one()
                taken.append(_mail(row))
        return taken

    async def sent(self, mail_id: int, owner: str, note: str | None = None) -> None:
        await self.conn.execute(
            mail_outbox.update()
            .where(mail_outbox.c.id == mail_id, mail_outbox.c.lease_owner == owner)
            .values(
                status="sent",
                sent_at=self.now(),
                tries=mail_outbox.c.tries + 1,
                error=note,
                lease_owner=None,
                lease_until=None,
            )
        )

    async def failed(
        self, mail_id: int, owner: str, error: str, retry_at: dt.datetime | None
    ) -> bool:
        """A try failed: pending again from `retry_at`, or `failed` for good (None). True when
        staff have not been told of this row before (they are told once, now)."""
        row = (
            await self.conn.execute(
                sa.select(mail_outbox.c.told_at).where(
                    mail_outbox.c.id == mail_id, mail_outbox.c.lease_owner == owner
                )
            )
        ).first()
        if row is None:  # no longer ours (the lease ran out and another process took it)
            return False
        now = self.now()
        await self.conn.execute(
            mail_outbox.update()
            .where(mail_outbox.c.id == mail_id)
            .values(
                status="pending" if retry_at is not None else "failed",
                next_at=retry_at or now,
                tries=mail_outbox.c.tries + 1,
                error=error[:2000],
                told_at=row.told_at or now,
                lease_owner=None,
                lease_until=None,
            )
        )
        return row.told_at is None

    async def next_due(self) -> dt.datetime | None:
        """When the earliest pending row is due."""
        query = sa.select(sa.func.min(mail_outbox.c.next_at)).where(
            mail_outbox.c.status == "pending"
        )
        return aware((await self.conn.execute(query)).scalar())

    async def get(self, key: str) -> Mail | None:
        query = sa.select(mail_outbox).where(mail_outbox.c.key == key)
        row = (await self.conn.execute(query)).first()
        return _mail(row) if row else None
