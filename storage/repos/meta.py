"""Key/value facts about this installation (e.g. which default data was loaded)."""

from __future__ import annotations

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import meta


class MetaRepo(Repo):
    async def get(self, key: str) -> str | None:
        row = (await self.conn.execute(sa.select(meta.c.value).where(meta.c.key == key))).first()
        return row.value if row else None

    async def set(self, key: str, value: str) -> None:
        await self.upsert(meta, {"key": key}, {"value": value})
