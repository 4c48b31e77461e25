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

    async def swap(self, key: str, old: str | None, new: str) -> bool:
        """Set `key` to `new` only if it still holds `old` (None: absent); False when another
        writer changed it first. A value that only moves forward stays so with several
        writers, each of whom swaps from the value it read."""
        if old is None:
            return await self.insert_new(meta.insert().values(key=key, value=new))
        result = await self.conn.execute(
            meta.update().where(meta.c.key == key, meta.c.value == old).values(value=new)
        )
        return bool(result.rowcount)
