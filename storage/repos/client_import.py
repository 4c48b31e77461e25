"""Client lists in bulk: a firm's existing contact list imported page by page, and exported.

Set-based per page (a few statements per 1,000 clients), never one client at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import client_tags, clients, identities, subscription_events, subscriptions


@dataclass(frozen=True, slots=True)
class ClientRow:
    """One line of a client list; None (or an empty tuple for tags/topics) keeps what is stored."""

    address: str
    name: str | None = None
    language: str | None = None
    phone: str | None = None
    tier: str | None = None
    tags: tuple[str, ...] | None = None
    topics: tuple[str, ...] | None = None
    advisor: str | None = None


class ClientImportRepo(Repo):
    async def import_page(
        self, rows: Sequence[ClientRow], *, actor: str, default_language: str
    ) -> tuple[int, int]:
        """Create or update the clients of one page; returns (created, updated)."""
        now = self.now()
        found = await self.conn.execute(
            sa.select(identities.c.address, identities.c.client_id).where(
                identities.c.address.in_([r.address for r in rows])
            )
        )
        ids = {r.address: r.client_id for r in found}
        fresh = [r for r in rows if r.address not in ids]
        if fresh:
            values = [
                {
                    "display_name": r.name,
                    "language": r.language or default_language,
                    "created_at": now,
                    "updated_at": now,
                    "tier": r.tier or "standard",
                    "advisor": r.advisor,
                    "phone": r.phone,
                }
                for r in fresh
            ]
            new_ids = await self._insert_clients(values)
            for row, client_id in zip(fresh, new_ids, strict=True):
                ids[row.address] = client_id
            await self.conn.execute(
                identities.insert(),
                [
                    {
                        "address": r.address,
                        "client_id": ids[r.address],
                        "channel": r.address.split(":", 1)[0],
                        "username": None,
                        "created_at": now,
                    }
                    for r in fresh
                ],
            )
        created = {r.address for r in fresh}
        known = [r for r in rows if r.address not in created]
        for column in ("name", "language", "phone", "tier", "advisor"):
            changes = [
                {"b_id": ids[r.address], "b_value": getattr(r, column)}
                for r in known
                if getattr(r, column) is not None
            ]
            if changes:
                target = "display_name" if column == "name" else column
                await self.conn.execute(
                    clients.update()
                    .where(clients.c.id == sa.bindparam("b_id"))
                    .values({target: sa.bindparam("b_value"), "updated_at": now}),
                    changes,
                )
        await self._replace_tags(rows, ids)
        await self._replace_topics(rows, ids, actor=actor)
        return len(fresh), len(known)

    async def _insert_clients(self, values: list[dict[str, Any]]) -> list[int]:
        """New client ids in the order given (see MessageInsertRepo._insert_ids for SQLite)."""
        if self.conn.dialect.name == "sqlite":
            inserted = await self.conn.execute(clients.insert().returning(clients.c.id), values)
            return sorted(row.id for row in inserted)
        statement = clients.insert().returning(clients.c.id, sort_by_parameter_order=True)
        return [row.id for row in await self.conn.execute(statement, values)]

    async def _replace_tags(self, rows: Sequence[ClientRow], ids: dict[str, int]) -> None:
        tagged = [r for r in rows if r.tags is not None]
        if not tagged:
            return
        await self.conn.execute(
            client_tags.delete().where(
                client_tags.c.client_id.in_([ids[r.address] for r in tagged])
            )
        )
        values = [{"client_id": ids[r.address], "tag": t} for r in tagged for t in r.tags or ()]
        if values:
            await self.conn.execute(client_tags.insert(), values)

    async def _replace_topics(
        self, rows: Sequence[ClientRow], ids: dict[str, int], *, actor: str
    ) -> None:
        listed = [r for r in rows if r.topics is not None]
        if not listed:
            return
        client_ids = [ids[r.address] for r in listed]
        current: dict[int, set[str]] = {}
        for row in await self.conn.execute(
            sa.select(subscriptions.c.client_id, subscriptions.c.topic_key).where(
                subscriptions.c.client_id.in_(client_ids)
            )
        ):
            current.setdefault(row.client_id, set()).add(row.topic_key)
        now = self.now()
        added, removed = [], []
        for r in listed:
            cid, wanted = ids[r.address], set(r.topics or ())
            have = current.get(cid, set())
            added += [(cid, k) for k in sorted(wanted - have)]
            removed += [(cid, k) for k in sorted(have - wanted)]
        if removed:
            await self.conn.execute(
                subscriptions.delete().where(
                    subscriptions.c.client_id == sa.bindparam("b_client"),
                    subscriptions.c.topic_key == sa.bindparam("b_topic"),
                ),
                [{"b_client": c, "b_topic": k} for c, k in removed],
            )
        if added:
            await self.conn.execute(
                subscriptions.insert(),
                [{"client_id": c, "topic_key": k, "created_at": now} for c, k in added],
            )
        events = [("subscribe", c, k) for c, k in added] + [
            ("unsubscribe", c, k) for c, k in removed
        ]
        if events:
            await self.conn.execute(
                subscription_events.insert(),
                [
                    {
                        "client_id": c,
                        "topic_key": k,
                        "action": a,
                        "channel": "import",
                        "actor": actor,
                        "at": now,
                    }
                    for a, c, k in events
                ],
            )

    async def export(self, page: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Every identity of every client still on file, page by page, in client order."""
        after = ""
        while True:
            query = (
                sa.select(
                    identities.c.address,
                    clients.c.id,
                    clients.c.display_name,
                    clients.c.language,
                    clients.c.phone,
                    clients.c.tier,
                    clients.c.advisor,
                )
                .join(clients, clients.c.id == identities.c.client_id)
                .where(identities.c.address > after, clients.c.erased_at.is_(None))
                .order_by(identities.c.address)
                .limit(page)
            )
            rows = (await self.conn.execute(query)).all()
            if not rows:
                return
            client_ids = sorted({r.id for r in rows})
            tags: dict[int, list[str]] = {}
            for t in await self.conn.execute(
                sa.select(client_tags)
                .where(client_tags.c.client_id.in_(client_ids))
                .order_by(client_tags.c.tag)
            ):
                tags.setdefault(t.client_id, []).append(t.tag)
            topics: dict[int, list[str]] = {}
            for s in await self.conn.execute(
                sa.select(subscriptions)
                .where(subscriptions.c.client_id.in_(client_ids))
                .order_by(subscriptions.c.topic_key)
            ):
                topics.setdefault(s.client_id, []).append(s.topic_key)
            for r in rows:
                yield {
                    "address": r.address,
                    "name": r.display_name or "",
                    "language": r.language,
                    "phone": r.phone or "",
                    "tier": r.tier,
                    "tags": ";".join(tags.get(r.id, [])),
                    "topics": ";".join(topics.get(r.id, [])),
                    "advisor": r.advisor or "",
                }
            after = rows[-1].address
