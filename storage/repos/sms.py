"""SMS consent on the client file, and the numbers that opted out by reply (R, TD, 退订 …)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from storage.records import SmsConsent, SmsOptOut, aware, sms_parts
from storage.repos.base import Repo
from storage.repos.message_rows import utc
from storage.schema import Ts, clients, identities, sms_opt_outs, sms_receipts
from storage.schema import messages as m

SMS = "sms"
# A text that may have reached the phone: a receipt can still settle it.
UNSETTLED = ("sending", "queued", "sent", "ambiguous")
KEEP_LOOKING = timedelta(days=2)  # receipts later than this are not waited for
CARRIER = "sms: the carrier reported"  # a failed receipt's error, then the carrier's code


@dataclass(frozen=True, slots=True)
class Awaiting:
    """A text sent whose receipt has not come (polled for when nothing is pushed)."""

    row_id: int
    phone: str
    message_id: str | None
    sent_at: datetime


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

    # ---- the sms: address of a client's phone -------------------------------------------------

    async def sync_addresses(self, client_ids: Sequence[int] | None = None) -> None:
        """Each client's phone on file is their `sms:` address: made when a phone is set,
        moved when it changes, dropped when it goes (an address a client wrote from stays).
        An `sms:` address without a phone on file (listed in an import) stays. Two
        clients sharing a number: the first on file has it. Set-based: two statements
        for an import's page as for one client."""
        owner = clients.alias("sms_owner")
        mine = identities.c.client_id == owner.c.id
        if client_ids is not None:
            mine = sa.and_(mine, owner.c.id.in_(list(client_ids)))
        moved = sa.and_(
            owner.c.phone.is_not(None),
            identities.c.address != sa.literal(f"{SMS}:") + owner.c.phone,
        )
        stale = sa.select(sa.literal(1)).where(mine, sa.or_(owner.c.erased_at.is_not(None), moved))
        wrote = sa.select(m.c.id).where(m.c.chat == identities.c.address, m.c.direction == "in")
        await self.conn.execute(
            identities.delete().where(
                identities.c.channel == SMS, stale.exists(), ~sa.exists(wrote)
            )
        )
        address = sa.literal(f"{SMS}:") + clients.c.phone
        fresh = (
            sa.select(
                address, sa.func.min(clients.c.id), sa.literal(SMS), sa.literal(self.now(), Ts)
            )
            .where(
                clients.c.phone.is_not(None),
                clients.c.erased_at.is_(None),
                ~sa.select(identities.c.address).where(identities.c.address == address).exists(),
            )
            .group_by(clients.c.phone)
        )
        if client_ids is not None:
            fresh = fresh.where(clients.c.id.in_(list(client_ids)))
        insert = identities.insert().from_select(
            ["address", "client_id", "channel", "created_at"], fresh
        )
        await self.insert_new(insert)  # a concurrent writer's same address: theirs stands

    # ---- sends, receipts --------------------------------------------------------------------

    async def sent_since(self, since: datetime) -> dict[str, list[datetime]]:
        """When texts went to each number since `since` (those that may have arrived too),
        for the per-number caps: one read, by the (direction, status) index."""
        query = sa.select(m.c.chat, m.c.updated_at).where(
            m.c.direction == "out",
            m.c.status.in_(("sent", "delivered", "failed", "ambiguous")),
            m.c.channel == SMS,
            m.c.updated_at >= utc(since),
            sa.or_(m.c.platform_id.is_not(None), m.c.status == "ambiguous"),
        )
        found: dict[str, list[datetime]] = {}
        for r in await self.conn.execute(query):
            found.setdefault(r.chat.split(":", 1)[1], []).append(aware(r.updated_at))  # type: ignore[arg-type]
        return found

    async def receipt(
        self,
        *,
        message_id: str,
        phone: str,
        delivered: bool,
        code: str,
        at: datetime | None = None,
        parts: int | None = None,
        out_id: str | None = None,
    ) -> int | None:
        """Keep a carrier's receipt and settle its outbox row (`sent` -> `delivered` or
        `failed` with the code); the row's id, or None while its send is not recorded yet
        (`settle_waiting` tries again). A second receipt for a text changes nothing."""
        key = {"message_id": message_id, "phone": phone}
        new = await self.insert_new(
            sms_receipts.insert().values(
                **key, delivered=delivered, code=code, at=utc(at) if at else None, parts=parts,
                received_at=self.now(),
            )
        )  # fmt: skip
        if not new:
            found = (
                await self.conn.execute(
                    sa.select(sms_receipts).where(
                        sms_receipts.c.message_id == message_id, sms_receipts.c.phone == phone
                    )
                )
            ).first()
            if found is None or found.row_id is not None:
                return found.row_id if found else None
            delivered, code = found.delivered, found.code  # the first word stands
        return await self._settle(message_id, phone, delivered, code, out_id)

    async def _settle(
        self, message_id: str, phone: str, delivered: bool, code: str, out_id: str | None
    ) -> int | None:
        chat = f"{SMS}:{phone}"
        query = sa.select(m.c.id).where(m.c.chat == chat, m.c.direction == "out")
        if out_id and out_id.isdigit():
            query = query.where(m.c.id == int(out_id))
        else:
            query = query.where(m.c.platform_id == message_id)
        row_id = (await self.conn.execute(query.limit(1))).scalar()
        if row_id is None:
            return None
        values: dict[str, object] = {"status": "delivered" if delivered else "failed"}
        if not delivered:
            values["error"] = f"{CARRIER} {code}"
        await self.conn.execute(
            m.update()
            .where(m.c.id == row_id, m.c.status.in_(UNSETTLED))
            .values(**values, platform_id=sa.func.coalesce(m.c.platform_id, message_id),
                    updated_at=self.now())
        )  # fmt: skip
        await self.conn.execute(
            sms_receipts.update()
            .where(sms_receipts.c.message_id == message_id, sms_receipts.c.phone == phone)
            .values(row_id=row_id)
        )
        return row_id

    async def settle_waiting(self, limit: int = 500) -> int:
        """Receipts that came before their send was recorded, tried again; how many settled."""
        query = (
            sa.select(sms_receipts)
            .where(
                sms_receipts.c.row_id.is_(None),
                sms_receipts.c.received_at > self.now() - KEEP_LOOKING,
            )
            .order_by(sms_receipts.c.received_at)
            .limit(limit)
        )
        settled = 0
        for r in (await self.conn.execute(query)).all():
            if await self._settle(r.message_id, r.phone, r.delivered, r.code, None) is not None:
                settled += 1
        return settled

    async def awaiting(self, older_than: timedelta, limit: int = 100) -> list[Awaiting]:
        """Texts sent at least `older_than` ago (and within two days) with no receipt yet,
        oldest first: what polling asks about."""
        now = self.now()
        query = (
            sa.select(m.c.id, m.c.chat, m.c.platform_id, m.c.updated_at)
            .where(
                m.c.direction == "out",
                m.c.channel == SMS,
                m.c.status.in_(("sent", "ambiguous")),
                m.c.updated_at > now - KEEP_LOOKING,
                m.c.updated_at <= now - older_than,
            )
            .order_by(m.c.updated_at)
            .limit(limit)
        )
        return [
            Awaiting(r.id, r.chat.split(":", 1)[1], r.platform_id, aware(r.updated_at))  # type: ignore[arg-type]
            for r in await self.conn.execute(query)
        ]

    async def figures(self, since: datetime, until: datetime) -> dict[str, int]:
        """Texts sent in [since, until): sent (the provider took them), delivered, failed
        (the carrier said so, or the provider refused), parts billed (the receipts' count,
        else reckoned from the text: 70 characters in one, 67 a part beyond)."""
        rows = (
            await self.conn.execute(
                sa.select(m.c.status, m.c.text, m.c.platform_id, sms_receipts.c.parts)
                .select_from(m.outerjoin(sms_receipts, sms_receipts.c.row_id == m.c.id))
                .where(
                    m.c.direction == "out",
                    m.c.channel == SMS,
                    m.c.created_at >= utc(since),
                    m.c.created_at < utc(until),
                    m.c.status.in_(("sent", "delivered", "failed", "ambiguous")),
                )
            )
        ).all()
        out = {"sent": 0, "delivered": 0, "failed": 0, "parts": 0}
        for r in rows:
            went = r.platform_id is not None or r.status == "delivered"
            if went:
                out["sent"] += 1
                out["parts"] += r.parts or sms_parts(len(r.text or ""))
            if r.status in ("delivered", "failed"):
                out[r.status] += 1
        return out
