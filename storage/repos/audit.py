"""Audit trail: who did (or tried) what."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.records import aware
from storage.repos.base import Repo
from storage.schema import audit_log


class AuditRepo(Repo):
    async def log(self, actor: str, action: str, **detail: Any) -> None:
        await self.conn.execute(
            audit_log.insert().values(at=self.now(), actor=actor, action=action, detail=detail)
        )

    async def recent(self, action: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit_log.c.action == action)
        rows = (await self.conn.execute(query)).mappings().all()
        return [{**r, "at": aware(r["at"])} for r in rows]
