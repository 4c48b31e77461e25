"""Advisors' desk: who is on duty, which languages they read, and how their replies are
signed."""

from __future__ import annotations

import json

import sqlalchemy as sa

from storage.records import Advisor
from storage.repos.base import Repo
from storage.schema import advisors, meta, roles

# Which languages each advisor reads: one JSON map in `meta` rather than a column, so the
# feature needs no migration while others are adding theirs; only this repo knows where.
LANGUAGES_KEY = "advisors.languages"


class AdvisorRepo(Repo):
    async def get(self, address: str) -> Advisor | None:
        row = (
            await self.conn.execute(sa.select(advisors).where(advisors.c.address == address))
        ).first()
        if row is None:
            return None
        return Advisor(row.address, row.on_duty, row.display_name, row.license_no, row.wecom_userid)

    async def save(self, address: str, **values: object) -> None:
        current = await self.get(address)
        merged = {
            "on_duty": current.on_duty if current else False,
            "display_name": current.display_name if current else None,
            "license_no": current.license_no if current else None,
            "wecom_userid": current.wecom_userid if current else None,
            **values,
            "updated_at": self.now(),
        }
        await self.upsert(advisors, {"address": address}, merged)

    async def on_duty(self) -> list[str]:
        """Addresses holding the advisor role and on duty, in a stable order."""
        query = (
            sa.select(advisors.c.address)
            .join(roles, sa.and_(roles.c.address == advisors.c.address, roles.c.role == "advisor"))
            .where(advisors.c.on_duty.is_(True))
            .order_by(advisors.c.address)
        )
        return [r.address for r in await self.conn.execute(query)]

    async def by_wecom(self, userid: str) -> str | None:
        """The advisor whose WeCom user id this is."""
        query = sa.select(advisors.c.address).where(advisors.c.wecom_userid == userid)
        return (await self.conn.execute(query)).scalar()

    async def link_wecom(self, address: str, userid: str) -> str | None:
        """`userid` becomes `address`'s WeCom user id; returns the advisor who had it before
        (it is taken from them), if another."""
        before = await self.by_wecom(userid)
        if before is not None and before != address:
            await self.conn.execute(
                advisors.update().where(advisors.c.address == before).values(wecom_userid=None)
            )
        await self.save(address, wecom_userid=userid)
        return before if before != address else None

    async def is_advisor(self, address: str) -> bool:
        query = sa.select(roles.c.role).where(roles.c.address == address, roles.c.role == "advisor")
        return (await self.conn.execute(query)).first() is not None

    async def languages(self) -> dict[str, list[str]]:
        """Every advisor who said which languages they read: address -> languages."""
        query = sa.select(meta.c.value).where(meta.c.key == LANGUAGES_KEY)
        raw = (await self.conn.execute(query)).scalar()
        return json.loads(raw) if raw else {}

    async def set_languages(self, address: str, languages: list[str]) -> None:
        """Read and written in the caller's write transaction (which takes the lock up front
        on SQLite), so two advisors saving at once do not lose each other's."""
        current = await self.languages()
        if languages:
            current[address] = languages
        else:
            current.pop(address, None)
        value = json.dumps(current, ensure_ascii=False, sort_keys=True)
        await self.upsert(meta, {"key": LANGUAGES_KEY}, {"value": value})
