"""Topics clients can subscribe to; staff add more without code."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.records import Topic
from storage.repos.base import Repo
from storage.schema import topics


def _topic(row: Any) -> Topic:
    return Topic(row.key, row.name_zh, row.name_en, row.advisory, row.enabled, row.sort_order)


class TopicRepo(Repo):
    async def list(self, *, include_disabled: bool = False) -> list[Topic]:
        everything = await self._all()
        return list(everything if include_disabled else (t for t in everything if t.enabled))

    async def get(self, key: str) -> Topic | None:
        return next((t for t in await self._all() if t.key == key), None)

    async def _all(self) -> tuple[Topic, ...]:
        """Every topic, cached across transactions until a change bumps the config version."""

        async def load() -> tuple[Topic, ...]:
            query = sa.select(topics).order_by(topics.c.sort_order, topics.c.key)
            return tuple(_topic(r) for r in await self.conn.execute(query))

        return await self.cached("topics", load)

    async def upsert(self, topic: Topic) -> bool:
        """Insert or update a topic; True when it was new."""
        values = {
            "name_zh": topic.name_zh,
            "name_en": topic.name_en,
            "advisory": topic.advisory,
            "enabled": topic.enabled,
            "sort_order": topic.sort_order,
        }
        await self.bump_version()
        result = await self.conn.execute(
            topics.update().where(topics.c.key == topic.key).values(**values)
        )
        if result.rowcount:
            return False
        await self.conn.execute(
            topics.insert().values(key=topic.key, created_at=self.now(), **values)
        )
        return True
