"""Client lists in bulk: a firm's existing contact list imported page by page, and exported.

Set-based per page (a few statements per 1,000 clients), never one client at a time. A line
may list the client's other addresses (`links`): each joins that client's file, and one that
another client holds stops the import (never moved in silence; merging is a separate act)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from storage.records import ONBOARDING_STEPS
from storage.repos.base import Repo
from storage.repos.onboarding import OnboardingRepo
from storage.repos.sms import SmsRepo
from storage.schema import (
    client_tags,
    clients,
    identities,
    onboarding_steps,
    subscription_events,
    subscriptions,
)


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
    links: tuple[str, ...] = ()  # the client's other addresses, added to the file
    sms_consent: bool | None = None  # SMS consent as the firm recorded it (source "import")
    stage: str | None = None  # the service flow's step the client is at (those before: done)


@dataclass(frozen=True, slots=True)
class Taken:
    """`link`, listed on the line of `address`, is already client `owner`'s address; the
    line's client is `client` (None: the line would create a new one)."""

    address: str
    link: str
    owner: int
    client: int | None


class LinksTaken(Exception):
    """Links that belong to other clients; the page wrote nothing."""

    def __init__(self, taken: list[Taken]) -> None:
        super().__init__(", ".join(f"{t.link} (client #{t.owner})" for t in taken))
        self.taken = taken


def _taken(rows: Sequence[ClientRow], owners: dict[str, int]) -> list[Taken]:
    found = []
    for r in rows:
        mine = owners.get(r.address)
        for link in r.links:
            owner = owners.get(link)
            if owner is not None and owner != mine:
                found.append(Taken(r.address, link, owner, mine))
    return found


def _consent(row: ClientRow, now: Any) -> dict[str, Any]:
    if row.sms_consent is None:  # every row the same keys: one executemany
        return {"sms_consent": None, "sms_consent_at": None, "sms_consent_source": None}
    return {"sms_consent": row.sms_consent, "sms_consent_at": now, "sms_consent_source": "import"}


class ClientImportRepo(Repo):
    async def import_page(
        self, rows: Sequence[ClientRow], *, actor: str, default_language: str
    ) -> tuple[int, int]:
        """Create or update the clients of one page and join their links; returns (created,
        updated). Raises LinksTaken (before writing anything) where a link is another
        client's. Each address, listed or linked, is on one row of the page only (the caller
        checks its file)."""
        now = self.now()
        wanted = [r.address for r in rows] + [link for r in rows for link in r.links]
        found = await self.conn.execute(
            sa.select(identities.c.address, identities.c.client_id).where(
                identities.c.address.in_(wanted)
            )
        )
        owners = {r.address: r.client_id for r in found}
        taken = _taken(rows, owners)
        if taken:
            raise LinksTaken(taken)
        ids = {r.address: owners[r.address] for r in rows if r.address in owners}
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
                    **_consent(r, now),
                }
                for r in fresh
            ]
            new_ids = await self._insert_clients(values)
            for row, client_id in zip(fresh, new_ids, strict=True):
                ids[row.address] = client_id
        joined = list(
            dict.fromkeys(
                (ids[r.address], link)
                for r in rows
                for link in r.links
                if link not in owners and link != r.address
            )
        )
        # Links a microsecond after the line's address: export names a client by the address
        # its file began with, so a list exported and imported again keeps its first column.
        later = now + timedelta(microseconds=1)
        new = [(ids[r.address], r.address, now) for r in fresh] + [(c, a, later) for c, a in joined]
        if new:
            await self.conn.execute(
                identities.insert(),
                [
                    {"address": a, "client_id": c, "channel": a.split(":", 1)[0],
                     "username": None, "created_at": at}
                    for c, a, at in new
                ],
            )  # fmt: skip
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
        await self._consent(known, ids)
        await SmsRepo(self.conn, self.now, self.state).sync_addresses(list(ids.values()))
        flow = OnboardingRepo(self.conn, self.now, self.state)
        for stage in sorted({r.stage for r in rows if r.stage}):  # type: ignore[type-var]
            at = [ids[r.address] for r in rows if r.stage == stage]
            await flow.start_at(at, stage, by=actor)
        await self._replace_tags(rows, ids)
        await self._replace_topics(rows, ids, actor=actor)
        return len(fresh), len(known)

    async def _consent(self, rows: Sequence[ClientRow], ids: dict[str, int]) -> None:
        """SMS consent from the list, where it changes what an import recorded (or nothing
        was): what the client said in a chat or a reply, or staff recorded, stands, so an
        old list imported again never turns a client's "no" back into "yes"."""
        changes = [
            {"b_id": ids[r.address], "b_value": r.sms_consent}
            for r in rows
            if r.sms_consent is not None
        ]
        if not changes:
            return
        now = self.now()
        await self.conn.execute(
            clients.update()
            .where(
                clients.c.id == sa.bindparam("b_id"),
                sa.or_(
                    clients.c.sms_consent_source.is_(None),
                    clients.c.sms_consent_source == "import",
                ),
                sa.or_(
                    clients.c.sms_consent.is_(None),
                    clients.c.sms_consent != sa.bindparam("b_value"),
                ),
            )
            .values(
                sms_consent=sa.bindparam("b_value"),
                sms_consent_at=now,
                sms_consent_source="import",
                updated_at=now,
            ),
            changes,
        )

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
        """One row per client still on file, page by page, in client order: the address the
        file began with in `address` (the earliest linked; ties by address), the others in
        `links`. A client without an address (none should be) has no row; one reached only
        by SMS has the sms: address first."""
        after = 0
        while True:
            query = (
                sa.select(clients)
                .where(clients.c.id > after, clients.c.erased_at.is_(None))
                .order_by(clients.c.id)
                .limit(page)
            )
            rows = (await self.conn.execute(query)).all()
            if not rows:
                return
            client_ids = [r.id for r in rows]
            addresses = await self._listed(identities, "address", client_ids)
            tags = await self._listed(client_tags, "tag", client_ids)
            topics = await self._listed(subscriptions, "topic_key", client_ids)
            steps = await self._listed(onboarding_steps, "step", client_ids)
            for r in rows:
                # The phone's sms: address is the phone column again (made from it on import).
                listed = addresses.get(r.id, [])
                mine = [a for a in listed if a != f"sms:{r.phone}"] or listed
                if not mine:
                    continue
                first, *others = mine
                yield {
                    "address": first,
                    "name": r.display_name or "",
                    "language": r.language,
                    "phone": r.phone or "",
                    "tier": r.tier,
                    "tags": ";".join(tags.get(r.id, [])),
                    "topics": ";".join(topics.get(r.id, [])),
                    "advisor": r.advisor or "",
                    "links": ";".join(others),
                    "sms_consent": {True: "yes", False: "no"}.get(r.sms_consent, ""),
                    "stage": _stage(steps.get(r.id, [])),
                }
            after = rows[-1].id

    async def _listed(self, table: sa.Table, column: str, ids: list[int]) -> dict[int, list[str]]:
        """{client id: values of `column`} for the clients `ids`; addresses oldest first."""
        order = [table.c.created_at] if column == "address" else []
        listed: dict[int, list[str]] = {}
        for row in await self.conn.execute(
            sa.select(table.c.client_id, table.c[column])
            .where(table.c.client_id.in_(ids))
            .order_by(*order, table.c[column])
        ):
            listed.setdefault(row.client_id, []).append(row[1])
        return listed


def _stage(recorded: list[str]) -> str:
    """The step a client is at: the first not recorded ("" before the flow, or after it)."""
    if not recorded:
        return ""
    return next((s for s in ONBOARDING_STEPS if s not in recorded), "")
