"""SMS consent on the client file, and the numbers that opted out by reply (R, TD, 退订 …)."""

from __future__ import annotations

import sqlalchemy as sa

from storage.records import SmsConsent, SmsOptOut, aware
from storage.repos.base import Repo
from storage.schema import clients, sms_opt_outs

CONSENT_SOURCES = ("import", "chat", "staff", "reply")


class SmsRepo(Repo):
    """Consent is the client's (whether topic texts and alerts may go to their phone);
    an opt-out is a number's (a reply names no client). A topic text goes only where both
    allow it: consent given and the number not opted out."""

    async def consent(self, client_id: int) -> SmsConsent:
        query = sa.select(
            clients.c.sms_consent, clients.c.sms_consent_at, clients.c.sms_consent_source
        ).where(clients.c.id == client_id)
        row = (await self.conn.execute(query)).first()
        if row is None:
            return SmsConsent(None)
        return SmsConsent(row.sms_consent, aware(row.sms_consent_at), row.sms_consent_source)

    async def set_consent(self, client_id: int, consented: bool, source: str) -> SmsConsent:
        """Record consent given (True) or withdrawn (False) now, and how. Consent given
        lifts an opt-out of the client's phone (they asked again); withdrawn records one."""
        if source not in CONSENT_SOURCES:
            raise ValueError(f"unknown consent source {source!r}")
        now = self.now()
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(
                sms_consent=consented,
                sms_consent_at=now,
                sms_consent_source=source,
                updated_at=now,
            )
        )
        phone = (
            await self.conn.execute(sa.select(clients.c.phone).where(clients.c.id == client_id))
        ).scalar()
        if phone:
            if consented:
                await self.opt_in(phone)
            else:
                await self.opt_out(phone, source)
        return SmsConsent(consented, now, source)

    async def opt_out(self, number: str, source: str, word: str | None = None) -> bool:
        """Record that `number` wants no topic texts; True when it was not opted out yet
        (a second R keeps the first time)."""
        exists = sa.select(sms_opt_outs.c.number).where(sms_opt_outs.c.number == number)
        if (await self.conn.execute(exists)).first() is not None:
            return False
        await self.conn.execute(
            sms_opt_outs.insert().values(number=number, at=self.now(), source=source, word=word)
        )
        return True

    async def opt_in(self, number: str) -> bool:
        """Lift the opt-out of `number`; True when there was one."""
        result = await self.conn.execute(
            sms_opt_outs.delete().where(sms_opt_outs.c.number == number)
        )
        return bool(result.rowcount)

    async def opted_out(self, number: str) -> SmsOptOut | None:
        query = sa.select(sms_opt_outs).where(sms_opt_outs.c.number == number)
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return SmsOptOut(row.number, aware(row.at), row.source, row.word)  # type: ignore[arg-type]

    async def consenting(self) -> list[tuple[int, str]]:
        """(client id, phone) of clients on file who consented, whose phone did not opt
        out: who topic texts and alerts may reach by SMS, in id order."""
        query = (
            sa.select(clients.c.id, clients.c.phone)
            .where(
                clients.c.sms_consent.is_(True),
                clients.c.phone.is_not(None),
                clients.c.erased_at.is_(None),
                ~sa.exists().where(sms_opt_outs.c.number == clients.c.phone),
            )
            .order_by(clients.c.id)
        )
        return [(r.id, r.phone) for r in await self.conn.execute(query)]
