"""The FAQ knowledge base, its synonyms, client feedback and the unanswered questions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storage.records import FaqEntry, Unanswered, aware
from storage.repos.base import Repo
from storage.schema import faq_entries as e
from storage.schema import faq_feedback as fb
from storage.schema import faq_synonyms as syn
from storage.schema import faq_unanswered as un
from storage.schema import faq_vectors as vec

IN_CHUNK = 500  # keys per IN (...) query: well under SQLite's bound-parameter limit


def _entry(row: Any) -> FaqEntry:
    return FaqEntry(
        id=row.id,
        language=row.language,
        category=row.category,
        question=row.question,
        answer=row.answer,
        variants=tuple(row.variants or ()),
        tags=tuple(row.tags or ()),
        buttons=tuple(row.buttons or ()),
        enabled=row.enabled,
        updated_by=row.updated_by,
        updated_at=aware(row.updated_at),
    )


class FaqRepo(Repo):
    async def entries(self, *, include_disabled: bool = True) -> list[FaqEntry]:
        query = sa.select(e).order_by(e.c.id)
        if not include_disabled:
            query = query.where(e.c.enabled.is_(True))
        return [_entry(r) for r in await self.conn.execute(query)]

    async def get(self, entry_id: str) -> FaqEntry | None:
        row = (await self.conn.execute(sa.select(e).where(e.c.id == entry_id))).first()
        return _entry(row) if row else None

    def _values(self, entry: FaqEntry, by: str) -> dict[str, Any]:
        return {
            "language": entry.language,
            "category": entry.category,
            "question": entry.question,
            "variants": list(entry.variants),
            "answer": entry.answer,
            "buttons": [dict(b) for b in entry.buttons],
            "tags": list(entry.tags),
            "enabled": entry.enabled,
            "updated_by": by,
            "updated_at": self.now(),
        }

    async def save(self, entry: FaqEntry, *, by: str) -> bool:
        """Insert or replace an entry; True when it was new."""
        values = self._values(entry, by)
        await self.bump_version()
        result = await self.conn.execute(e.update().where(e.c.id == entry.id).values(**values))
        if result.rowcount:
            return False
        await self.conn.execute(e.insert().values(id=entry.id, **values))
        return True

    async def save_many(self, entries: Iterable[FaqEntry], *, by: str) -> int:
        """`save` for many entries in a few statements (the shipped base is ~100, loaded
        into every new database); the last of a repeated id wins. Returns how many were new."""
        rows = {entry.id: self._values(entry, by) for entry in entries}
        if not rows:
            return 0
        await self.bump_version()
        known: set[str] = set()
        ids = sorted(rows)
        for i in range(0, len(ids), IN_CHUNK):
            found = await self.conn.execute(
                sa.select(e.c.id).where(e.c.id.in_(ids[i : i + IN_CHUNK]))
            )
            known.update(r.id for r in found)
        if known:
            update = e.update().where(e.c.id == sa.bindparam("entry_id"))
            await self.conn.execute(
                update, [{"entry_id": k, **v} for k, v in rows.items() if k in known]
            )
        new = [{"id": k, **v} for k, v in rows.items() if k not in known]
        if new:
            await self.conn.execute(e.insert(), new)
        return len(new)

    async def disable_except(self, keep: list[str], *, by: str) -> int:
        """Disable every enabled entry whose id is not in `keep` (kept, for history)."""
        result = await self.conn.execute(
            e.update()
            .where(e.c.enabled.is_(True), e.c.id.not_in(keep))
            .values(enabled=False, updated_by=by, updated_at=self.now())
        )
        if result.rowcount:
            await self.bump_version()
        return int(result.rowcount or 0)

    async def delete(self, entry_id: str) -> bool:
        await self.bump_version()
        result = await self.conn.execute(e.delete().where(e.c.id == entry_id))
        return bool(result.rowcount)

    async def version(self) -> tuple[int, datetime | None, int, datetime | None]:
        """Changes whenever entries or synonyms change: lets a cached index notice."""
        entries = (
            await self.conn.execute(sa.select(sa.func.count(), sa.func.max(e.c.updated_at)))
        ).one()
        synonyms = (
            await self.conn.execute(sa.select(sa.func.count(), sa.func.max(syn.c.updated_at)))
        ).one()
        return (entries[0], aware(entries[1]), synonyms[0], aware(synonyms[1]))

    async def vectors(self, model: str, digests: Iterable[str]) -> dict[str, bytes]:
        """The stored embeddings of these texts (by digest) for `model`."""
        wanted = sorted(set(digests))
        found: dict[str, bytes] = {}
        for i in range(0, len(wanted), IN_CHUNK):
            rows = await self.conn.execute(
                sa.select(vec.c.digest, vec.c.vector).where(
                    vec.c.model == model, vec.c.digest.in_(wanted[i : i + IN_CHUNK])
                )
            )
            found.update({r.digest: bytes(r.vector) for r in rows})
        return found

    async def save_vectors(self, model: str, vectors: Mapping[str, bytes]) -> None:
        """Store embeddings; one another process stored first is kept (they are the same)."""
        if not vectors:
            return
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        rows = [{"model": model, "digest": k, "vector": v} for k, v in vectors.items()]
        statement = dialect.insert(vec).on_conflict_do_nothing(index_elements=["model", "digest"])
        await self.conn.execute(statement, rows)

    async def synonyms(self) -> dict[str, str]:
        rows = await self.conn.execute(sa.select(syn.c.term, syn.c.canonical).order_by(syn.c.term))
        return {r.term: r.canonical for r in rows}

    async def set_synonym(self, term: str, canonical: str, *, by: str) -> None:
        values = {"canonical": canonical, "updated_by": by, "updated_at": self.now()}
        await self.bump_version()
        await self.upsert(syn, {"term": term}, values)

    async def set_synonyms(self, table: Mapping[str, str], *, by: str) -> None:
        """`set_synonym` for a whole table in one statement (the shipped ~300 terms)."""
        if not table:
            return
        await self.bump_version()
        now = self.now()
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(syn)
        statement = statement.on_conflict_do_update(
            index_elements=["term"],
            set_={c: statement.excluded[c] for c in ("canonical", "updated_by", "updated_at")},
        )
        rows = [
            {"term": term, "canonical": canonical, "updated_by": by, "updated_at": now}
            for term, canonical in table.items()
        ]
        await self.conn.execute(statement, rows)

    async def delete_synonym(self, term: str) -> bool:
        await self.bump_version()
        result = await self.conn.execute(syn.delete().where(syn.c.term == term))
        return bool(result.rowcount)

    async def feedback(
        self, entry_id: str, message_id: int, *, client_id: int | None, helpful: bool
    ) -> bool:
        """Record a rating; False if this answer was already rated (a second tap)."""
        return await self.insert_new(
            fb.insert().values(
                entry_id=entry_id,
                message_id=message_id,
                client_id=client_id,
                helpful=helpful,
                at=self.now(),
            )
        )

    async def feedback_counts(self) -> dict[str, tuple[int, int]]:
        """entry id -> (helpful, not helpful)."""
        helpful = sa.func.sum(sa.case((fb.c.helpful.is_(True), 1), else_=0))
        rows = await self.conn.execute(
            sa.select(fb.c.entry_id, helpful.label("yes"), sa.func.count().label("n")).group_by(
                fb.c.entry_id
            )
        )
        return {r.entry_id: (int(r.yes or 0), int(r.n) - int(r.yes or 0)) for r in rows}

    async def record_unanswered(
        self,
        *,
        message_id: int | None,
        client_id: int | None,
        chat: str,
        text: str,
        normalized: str,
        best_entry: str | None,
        best_score: float | None,
    ) -> int:
        """Record a question nobody answered; the same message is recorded once."""
        if message_id is not None:
            found = (
                await self.conn.execute(sa.select(un.c.id).where(un.c.message_id == message_id))
            ).first()
            if found:
                return int(found.id)
        result = await self.conn.execute(
            un.insert().values(
                message_id=message_id,
                client_id=client_id,
                chat=chat,
                text=text,
                normalized=normalized,
                best_entry=best_entry,
                best_score=best_score,
                handed_off=False,
                locked=False,
                at=self.now(),
            )
        )
        return int(result.inserted_primary_key[0])

    async def hand_off(self, unanswered_id: int, *, chat: str) -> Unanswered | None:
        """Mark a question as handed to a person; only from the chat that asked it."""
        mine = sa.and_(un.c.id == unanswered_id, un.c.chat == chat)
        await self.conn.execute(un.update().where(mine).values(handed_off=True))
        row = (await self.conn.execute(sa.select(un).where(mine))).first()
        return _unanswered(row) if row else None

    async def unanswered_since(self, since: datetime) -> list[Unanswered]:
        """The gaps: questions not answered since `since`, not taught since."""
        rows = await self.conn.execute(
            sa.select(un)
            .where(un.c.at >= since, un.c.locked.is_(False), un.c.taught_entry.is_(None))
            .order_by(un.c.id)
        )
        return [_unanswered(r) for r in rows]

    async def unanswered(self, unanswered_id: int) -> Unanswered | None:
        row = (await self.conn.execute(sa.select(un).where(un.c.id == unanswered_id))).first()
        return _unanswered(row) if row else None

    async def taught(self, normalized: str, entry_id: str, *, by: str) -> int:
        """Every untaught record of this question (as normalised) taught as `entry_id`'s
        phrasing; how many."""
        result = await self.conn.execute(
            un.update()
            .where(un.c.normalized == normalized, un.c.taught_entry.is_(None))
            .values(taught_entry=entry_id, taught_by=by, taught_at=self.now())
        )
        return int(result.rowcount)


def _unanswered(row: Any) -> Unanswered:
    return Unanswered(
        id=row.id,
        message_id=row.message_id,
        client_id=row.client_id,
        chat=row.chat,
        text=row.text,
        normalized=row.normalized,
        best_entry=row.best_entry,
        best_score=row.best_score,
        handed_off=row.handed_off,
        at=aware(row.at),  # type: ignore[arg-type]
    )
