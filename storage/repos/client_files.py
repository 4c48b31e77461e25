"""The client file (客户档案): tier, assigned advisor, phone, tags and staff notes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.records import Client, ClientFile, Identity, SmsConsent, aware
from storage.repos.base import Repo
from storage.repos.onboarding import OnboardingRepo
from storage.repos.sms import SmsRepo
from storage.schema import (
    client_notes,
    client_tags,
    clients,
    identities,
    messages,
    return_visits,
    subscriptions,
)

TIERS = ("standard", "vip")


# The file's fields the service flow notices (客户分配, 客户细分, 建立客户档案).
FLOW_FIELDS = frozenset({"advisor", "tier", "phone"})


class ClientFileRepo(Repo):
    async def get(self, client: Client) -> ClientFile:
        client_id = client.id
        row = (
            await self.conn.execute(
                sa.select(
                    clients.c.tier,
                    clients.c.advisor,
                    clients.c.phone,
                    clients.c.sms_consent,
                    clients.c.sms_consent_at,
                    clients.c.sms_consent_source,
                    clients.c.email,
                ).where(clients.c.id == client_id)
            )
        ).one()
        tags = await self.tags(client_id)
        notes = await self.conn.execute(
            sa.select(client_notes)
            .where(client_notes.c.client_id == client_id)
            .order_by(client_notes.c.id.desc())
            .limit(10)
        )
        subs = await self.conn.execute(
            sa.select(subscriptions.c.topic_key)
            .where(subscriptions.c.client_id == client_id)
            .order_by(subscriptions.c.topic_key)
        )
        last = await self.conn.execute(
            sa.select(sa.func.max(messages.c.created_at)).where(
                messages.c.client_id == client_id, messages.c.direction == "in"
            )
        )
        return ClientFile(
            client=client,
            identities=tuple(
                Identity(r.address, r.client_id, r.channel, r.username, aware(r.created_at))  # type: ignore[arg-type]
                for r in await self.conn.execute(
                    sa.select(identities)
                    .where(identities.c.client_id == client_id)
                    .order_by(identities.c.address)
                )
            ),
            tier=row.tier,
            advisor=row.advisor,
            phone=row.phone,
            tags=tuple(tags),
            notes=tuple((aware(n.at), n.author, n.text) for n in notes),  # type: ignore[misc]
            subscriptions=tuple(r.topic_key for r in subs),
            last_contact=aware(last.scalar()),
            sms=SmsConsent(row.sms_consent, aware(row.sms_consent_at), row.sms_consent_source),
            email=row.email,
        )

    async def fields(self, client_id: int) -> Any:
        """tier, advisor, phone of one client (None if there is no such client)."""
        query = sa.select(clients.c.tier, clients.c.advisor, clients.c.phone).where(
            clients.c.id == client_id
        )
        return (await self.conn.execute(query)).first()

    async def with_phone(self, phone: str) -> list[int]:
        """The clients on file (not erased) with this phone number."""
        query = sa.select(clients.c.id).where(
            clients.c.phone == phone, clients.c.erased_at.is_(None)
        )
        return [r.id for r in await self.conn.execute(query)]

    async def search(self, text: str, limit: int = 50) -> list[Client]:
        """Clients on file (not erased) whose name, phone, one of whose addresses or tags
        holds `text` (any case; `%` and `_` are plain characters), newest first."""
        text = text.strip()
        if not text:
            return []
        by_address = sa.select(identities.c.client_id).where(
            identities.c.address.icontains(text, autoescape=True)
        )
        by_tag = sa.select(client_tags.c.client_id).where(
            client_tags.c.tag.icontains(text, autoescape=True)
        )
        query = (
            sa.select(
                clients.c.id, clients.c.display_name, clients.c.language, clients.c.created_at
            )
            .where(
                clients.c.erased_at.is_(None),
                sa.or_(
                    clients.c.display_name.icontains(text, autoescape=True),
                    clients.c.phone.contains(text, autoescape=True),
                    clients.c.id.in_(by_address),
                    clients.c.id.in_(by_tag),
                ),
            )
            .order_by(clients.c.id.desc())
            .limit(limit)
        )
        return [
            Client(r.id, r.display_name, r.language, aware(r.created_at))  # type: ignore[arg-type]
            for r in await self.conn.execute(query)
        ]

    async def preferred(self, client_id: int) -> str | None:
        """The address pushes go to when the client (or staff) chose one."""
        query = sa.select(clients.c.preferred).where(clients.c.id == client_id)
        return (await self.conn.execute(query)).scalar()

    async def set(self, client_id: int, **values: Any) -> None:
        """Change tier, advisor, phone, e-mail and/or the preferred address."""
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(updated_at=self.now(), **values)
        )
        if "phone" in values:  # the phone is the client's sms: address
            await SmsRepo(self.conn, self.now, self.state).sync_addresses([client_id])
        if values.keys() & FLOW_FIELDS:
            await self._flow(client_id, values)

    async def _flow(self, client_id: int, values: dict[str, Any]) -> None:
        """What a change to the file does to the service flow: an advisor assigned (客户分配),
        a tier set (客户细分), the file complete with tier, advisor and phone (建立客户档案).
        Noticed steps never undo what staff recorded."""
        flow = OnboardingRepo(self.conn, self.now, self.state)
        if values.get("advisor"):
            await flow.mark(client_id, "advisor", "done", "bot", overwrite=False)
        if values.get("tier"):
            await flow.mark(client_id, "segment", "done", "bot", overwrite=False)
        row = await self.fields(client_id)
        if row is not None and row.tier and row.advisor and row.phone:
            await flow.mark(client_id, "file", "done", "bot", overwrite=False)

    async def tags(self, client_id: int) -> list[str]:
        rows = await self.conn.execute(
            sa.select(client_tags.c.tag)
            .where(client_tags.c.client_id == client_id)
            .order_by(client_tags.c.tag)
        )
        return [r.tag for r in rows]

    async def add_tag(self, client_id: int, tag: str) -> bool:
        added = await self.insert_new(client_tags.insert().values(client_id=client_id, tag=tag))
        if added:  # a tag places the client in a segment (客户细分)
            flow = OnboardingRepo(self.conn, self.now, self.state)
            await flow.mark(client_id, "segment", "done", "bot", overwrite=False)
        return added

    async def del_tag(self, client_id: int, tag: str) -> bool:
        result = await self.conn.execute(
            client_tags.delete().where(
                client_tags.c.client_id == client_id, client_tags.c.tag == tag
            )
        )
        return bool(result.rowcount)

    async def set_tags(self, client_id: int, tags: list[str]) -> None:
        await self.conn.execute(client_tags.delete().where(client_tags.c.client_id == client_id))
        if tags:
            await self.conn.execute(
                client_tags.insert(), [{"client_id": client_id, "tag": t} for t in tags]
            )

    async def add_note(self, client_id: int, author: str, text: str) -> None:
        await self.conn.execute(
            client_notes.insert().values(
                client_id=client_id, author=author, text=text, at=self.now()
            )
        )

    async def erase(self, client_id: int) -> None:
        """/deleteme: phone, tags and notes go with the rest of the personal data."""
        await self.conn.execute(client_tags.delete().where(client_tags.c.client_id == client_id))
        await self.conn.execute(client_notes.delete().where(client_notes.c.client_id == client_id))
        await self.conn.execute(  # the score is kept for the figures, their words are not
            return_visits.update()
            .where(return_visits.c.client_id == client_id)
            .values(comment=None)
        )
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(
                phone=None,
                email=None,
                advisor=None,
                sms_consent=None,
                sms_consent_at=None,
                sms_consent_source=None,
                trading_code=None,
            )
        )
