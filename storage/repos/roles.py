"""Roles granted by admins (admins themselves come from settings)."""

from __future__ import annotations

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import roles


class RoleRepo(Repo):
    async def of(self, address: str) -> set[str]:
        rows = await self.conn.execute(sa.select(roles.c.role).where(roles.c.address == address))
        return {r.role for r in rows}

    async def grant(self, address: str, role: str, by: str) -> bool:
        """Grant a role; False when the address already had it."""
        if role in await self.of(address):
            return False
        return await self.insert_new(
            roles.insert().values(address=address, role=role, granted_by=by, granted_at=self.now())
        )

    async def revoke(self, address: str, role: str | None = None) -> list[str]:
        """Revoke one role or all of them; returns what was removed."""
        had = await self.of(address)
        gone = sorted(had if role is None else had & {role})
        if gone:
            await self.conn.execute(
                roles.delete().where(roles.c.address == address, roles.c.role.in_(gone))
            )
        return gone

    async def all(self) -> list[tuple[str, str]]:
        rows = await self.conn.execute(
            sa.select(roles.c.address, roles.c.role).order_by(roles.c.address, roles.c.role)
        )
        return [(r.address, r.role) for r in rows]
