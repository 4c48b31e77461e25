"""Staff console accounts and their server-side sessions. Secrets arrive hashed: this layer
never sees a password, a session token or a recovery code in the clear."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.records import StaffAccount, StaffSession, aware
from storage.repos.base import Repo
from storage.schema import staff_accounts as a
from storage.schema import staff_sessions as s
from storage.schema import staff_viewing as v

FRESH = timedelta(seconds=30)  # a ticket page says it is open every 10 s


def _account(row: Any) -> StaffAccount:
    return StaffAccount(
        row.id, row.name, row.role, row.address, row.password_hash, row.totp_secret,
        tuple(row.recovery_codes or ()), row.failed_logins, aware(row.locked_until),
        aware(row.disabled_at), aware(row.last_login_at),
    )  # fmt: skip


def _session(row: Any) -> StaffSession:
    return StaffSession(
        row.token_hash, row.account_id, row.csrf, row.stage,
        aware(row.created_at), aware(row.seen_at),  # type: ignore[arg-type]
    )  # fmt: skip


class StaffRepo(Repo):
    # ---- accounts ---------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        role: str,
        address: str,
        password_hash: str,
        totp_secret: str,
        recovery_codes: Sequence[str],
    ) -> StaffAccount | None:
        """A new account; None when the name is taken."""
        now = self.now()
        added = await self.insert_new(
            a.insert().values(
                name=name,
                role=role,
                address=address,
                password_hash=password_hash,
                totp_secret=totp_secret,
                recovery_codes=list(recovery_codes),
                failed_logins=0,
                created_at=now,
                updated_at=now,
            )
        )
        return await self.by_name(name) if added else None

    async def by_name(self, name: str) -> StaffAccount | None:
        row = (await self.conn.execute(sa.select(a).where(a.c.name == name))).first()
        return _account(row) if row else None

    async def get(self, account_id: int) -> StaffAccount | None:
        row = (await self.conn.execute(sa.select(a).where(a.c.id == account_id))).first()
        return _account(row) if row else None

    async def all(self) -> list[StaffAccount]:
        return [_account(r) for r in await self.conn.execute(sa.select(a).order_by(a.c.name))]

    async def change(self, account_id: int, **values: Any) -> None:
        """Password, role, lockout counters, a disabled or enabled account."""
        await self.conn.execute(
            a.update().where(a.c.id == account_id).values(updated_at=self.now(), **values)
        )

    async def failed(self, account_id: int, locked_until: datetime | None) -> int:
        """Count a failed sign-in (atomically: two at once count twice); the new count."""
        await self.conn.execute(
            a.update()
            .where(a.c.id == account_id)
            .values(failed_logins=a.c.failed_logins + 1, locked_until=locked_until)
        )
        query = sa.select(a.c.failed_logins).where(a.c.id == account_id)
        return int((await self.conn.execute(query)).scalar() or 0)

    async def use_recovery_code(self, account_id: int, code_hash: str) -> bool:
        """Spend one recovery code; False when it is not (or no longer) one of theirs. The
        row is locked while read (PostgreSQL; SQLite's writer holds the database): a code
        used twice at once is spent once."""
        query = sa.select(a.c.recovery_codes).where(a.c.id == account_id).with_for_update()
        codes = list((await self.conn.execute(query)).scalar() or [])
        if code_hash not in codes:
            return False
        codes.remove(code_hash)
        await self.change(account_id, recovery_codes=codes)
        return True

    async def use_totp_step(self, account_id: int, step: int) -> bool:
        """Spend a TOTP code's time step: False when it (or a later one) was used already,
        so a code seen over someone's shoulder, or sent twice at once, works only once."""
        result = await self.conn.execute(
            a.update()
            .where(
                a.c.id == account_id,
                sa.or_(a.c.totp_last_step.is_(None), a.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return bool(result.rowcount)

    # ---- sessions ---------------------------------------------------------------------------

    async def open_session(self, token_hash: str, account_id: int, csrf: str, stage: str) -> None:
        now = self.now()
        await self.conn.execute(
            s.insert().values(
                token_hash=token_hash,
                account_id=account_id,
                csrf=csrf,
                stage=stage,
                created_at=now,
                seen_at=now,
            )
        )

    async def session(self, token_hash: str) -> StaffSession | None:
        row = (await self.conn.execute(sa.select(s).where(s.c.token_hash == token_hash))).first()
        return _session(row) if row else None

    async def touch(self, token_hash: str) -> None:
        await self.conn.execute(
            s.update().where(s.c.token_hash == token_hash).values(seen_at=self.now())
        )

    async def close_session(self, token_hash: str) -> None:
        await self.conn.execute(s.delete().where(s.c.token_hash == token_hash))

    async def close_sessions(self, account_id: int) -> None:
        """Every session of the account (disabled, new password)."""
        await self.conn.execute(s.delete().where(s.c.account_id == account_id))

    async def drop_stale(self, idle_before: datetime, created_before: datetime) -> int:
        result = await self.conn.execute(
            s.delete().where(sa.or_(s.c.seen_at < idle_before, s.c.created_at < created_before))
        )
        return int(result.rowcount or 0)

    # ---- who has a ticket open --------------------------------------------------------------

    async def viewing(self, ticket_id: int, account: str) -> list[str]:
        """`account` has the ticket open now; the others who have it open too."""
        now = self.now()
        await self.upsert(v, {"ticket_id": ticket_id, "account": account}, {"seen_at": now})
        await self.conn.execute(v.delete().where(v.c.seen_at < now - FRESH * 10))
        rows = await self.conn.execute(
            sa.select(v.c.account)
            .where(v.c.ticket_id == ticket_id, v.c.account != account, v.c.seen_at >= now - FRESH)
            .order_by(v.c.account)
        )
        return [r.account for r in rows]
