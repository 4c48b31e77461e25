"""What the FAQ learns from use (`faq_learning`): proposed phrasings, 👎 pairings and
questions staff marked as not the FAQ's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.records import aware
from storage.repos.base import Repo
from storage.schema import faq_learning as fl

TRAINING_ROWS = 2000  # the newest of each kind a judge trains on


@dataclass(frozen=True, slots=True)
class Lesson:
    id: int
    kind: str  # variant | negative | outside
    status: str  # pending | confirmed | rejected
    text: str
    entry_id: str | None
    at: datetime


def _lesson(row: Any) -> Lesson:
    return Lesson(row.id, row.kind, row.status, row.text, row.entry_id, aware(row.at))


class FaqLearningRepo(Repo):
    async def add(
        self,
        kind: str,
        text: str,
        *,
        entry_id: str | None = None,
        message_id: int | None = None,
        client_id: int | None = None,
        by: str | None = None,
    ) -> bool:
        """Record a lesson; False when this message taught this kind already. A lesson staff
        give (`by`) is confirmed at once; a client's variant waits for staff."""
        pending = by is None and kind == "variant"
        return await self.insert_new(
            fl.insert().values(
                kind=kind,
                status="pending" if pending else "confirmed",
                text=text,
                entry_id=entry_id,
                message_id=message_id,
                client_id=client_id,
                at=self.now(),
                decided_by=by,
                decided_at=None if pending else self.now(),
            )
        )

    async def pending(self, limit: int = 30) -> list[Lesson]:
        rows = await self.conn.execute(
            sa.select(fl)
            .where(fl.c.kind == "variant", fl.c.status == "pending")
            .order_by(fl.c.id)
            .limit(limit)
        )
        return [_lesson(r) for r in rows]

    async def get(self, lesson_id: int) -> Lesson | None:
        row = (await self.conn.execute(sa.select(fl).where(fl.c.id == lesson_id))).first()
        return _lesson(row) if row else None

    async def decide(self, lesson_id: int, *, confirmed: bool, by: str) -> bool:
        """Settle a pending lesson; False when it was settled already (a second tap)."""
        result = await self.conn.execute(
            fl.update()
            .where(fl.c.id == lesson_id, fl.c.status == "pending")
            .values(
                status="confirmed" if confirmed else "rejected",
                decided_by=by,
                decided_at=self.now(),
            )
        )
        return bool(result.rowcount)

    async def for_training(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(👎 pairings as (question, entry id), questions that are not the FAQ's)."""
        rows = (
            await self.conn.execute(
                sa.select(fl.c.id, fl.c.kind, fl.c.text, fl.c.entry_id)
                .where(fl.c.kind.in_(("negative", "outside")), fl.c.status == "confirmed")
                .order_by(fl.c.id.desc())
                .limit(2 * TRAINING_ROWS)
            )
        ).all()
        disliked = [(r.text, r.entry_id) for r in rows if r.kind == "negative" and r.entry_id]
        outside = [r.text for r in rows if r.kind == "outside"]
        return disliked[:TRAINING_ROWS], outside[:TRAINING_ROWS]

    async def version(self) -> str:
        """What changes whenever what the judge trains on does (a lesson added, or one
        forgotten with an erased client)."""
        found = await self.conn.execute(
            sa.select(sa.func.count(), sa.func.max(fl.c.id)).where(
                fl.c.kind.in_(("negative", "outside")), fl.c.status == "confirmed"
            )
        )
        count, last = found.one()
        return f"{count}:{last or 0}"

    async def forget(self, client_id: int) -> None:
        """Erasure: a client's words that did not become the firm's (a confirmed phrasing is
        part of the knowledge base now). A judge trained on them is trained again without
        them: every process looks again at its next event."""
        gone = await self.conn.execute(
            fl.delete().where(
                fl.c.client_id == client_id,
                sa.or_(fl.c.kind != "variant", fl.c.status != "confirmed"),
            )
        )
        if gone.rowcount:
            await self.bump_version()
