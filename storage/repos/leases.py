"""Named, expiring leases: at most one holder per name across every process on a database."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import leases


class LeaseRepo(Repo):
    async def acquire(
        self, name: str, owner: str, until: datetime, *, dead: tuple[str, ...] = ()
    ) -> bool:
        """Take or renew `name` for `owner` until `until`: it is ours if we held it, it ran
        out, or its holder is known to be dead. True when we hold it now."""
        now = self.now().astimezone(UTC)
        free = sa.or_(leases.c.owner == owner, leases.c.until < now)
        if dead:
            free = sa.or_(free, leases.c.owner.in_(dead))
        result = await self.conn.execute(
            leases.update()
            .where(leases.c.name == name, free)
            .values(owner=owner, until=until.astimezone(UTC))
        )
        if result.rowcount:
            return True
        return await self.insert_new(
            leases.insert().values(name=name, owner=owner, until=until.astimezone(UTC))
        )

    async def release(self, name: str, owner: str) -> None:
        await self.conn.execute(
            leases.delete().where(leases.c.name == name, leases.c.owner == owner)
        )

    async def holder(self, name: str) -> str | None:
        row = (
            await self.conn.execute(sa.select(leases.c.owner).where(leases.c.name == name))
        ).first()
        return row.owner if row else None

    async def holders(self) -> set[str]:
        return {r.owner for r in await self.conn.execute(sa.select(leases.c.owner))}
