"""Clients and the platform identities that lead to them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage.records import Client, Identity, aware
from storage.repos.base import Repo, is_duplicate
from storage.schema import clients, conversation_states, faq_unanswered, identities, messages


def _client(row: Any) -> Client:
    return Client(
        id=row.id,
        display_name=row.display_name,
        language=row.language,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        erased_at=aware(row.erased_at),
    )


class ClientRepo(Repo):
    async def get(self, client_id: int) -> Client | None:
        row = (await self.conn.execute(sa.select(clients).where(clients.c.id == client_id))).first()
        return _client(row) if row else None

    async def by_address(self, address: str) -> Client | None:
        query = (
            sa.select(clients)
            .join(identities, identities.c.client_id == clients.c.id)
            .where(identities.c.address == address)
        )
        row = (await self.conn.execute(query)).first()
        return _client(row) if row else None

    async def get_or_create(
        self, address: str, *, language: str, display_name: str | None, username: str | None
    ) -> tuple[Client, bool]:
        """The client behind an address, created on first contact; (client, created)."""
        found = await self.by_address(address)
        if found:
            if display_name and display_name != found.display_name:
                await self.conn.execute(
                    clients.update()
                    .where(clients.c.id == found.id)
                    .values(display_name=display_name, updated_at=self.now())
                )
                found = await self.get(found.id)
            return found, False  # type: ignore[return-value]
        now = self.now()
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(
                    clients.insert().values(
                        display_name=display_name,
                        language=language,
                        created_at=now,
                        updated_at=now,
                    )
                )
                client_id = int(result.inserted_primary_key[0])
                await self.conn.execute(
                    identities.insert().values(
                        address=address,
                        client_id=client_id,
                        channel=address.split(":", 1)[0],
                        username=username,
                        created_at=now,
                    )
                )
        except IntegrityError as exc:
            if not is_duplicate(exc):
                raise
            # A concurrent first message from the same person created them first.
            return await self.by_address(address), False  # type: ignore[return-value]
        return await self.get(client_id), True  # type: ignore[return-value]

    async def identities(self, client_id: int) -> list[Identity]:
        rows = await self.conn.execute(
            sa.select(identities).where(identities.c.client_id == client_id)
        )
        return [
            Identity(r.address, r.client_id, r.channel, r.username, aware(r.created_at))  # type: ignore[arg-type]
            for r in rows
        ]

    async def set_language(self, client_id: int, language: str) -> None:
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(language=language, updated_at=self.now())
        )

    async def erase(self, client_id: int) -> None:
        """Erase personal data; records the law keeps (archive, history) are locked, not deleted.

        The platform identities go, so the person is a stranger to the bot afterwards.
        """
        now = self.now()
        addresses = [i.address for i in await self.identities(client_id)]
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(display_name=None, erased_at=now, updated_at=now)
        )
        # Their messages: linked to the client, or sent by / to one of their addresses
        # (an event that failed before it was linked still carries the sender).
        mine = messages.c.client_id == client_id
        if addresses:
            mine = sa.or_(
                mine,
                messages.c.sender.in_(addresses),
                sa.and_(messages.c.direction == "out", messages.c.chat.in_(addresses)),
            )
        await self.conn.execute(messages.update().where(mine).values(locked=True))
        await self.conn.execute(
            faq_unanswered.update()
            .where(faq_unanswered.c.client_id == client_id)
            .values(locked=True)
        )
        if addresses:
            states = conversation_states.c.chat  # private chat "a", or "group/a" in a group
            await self.conn.execute(
                conversation_states.delete().where(
                    sa.or_(states.in_(addresses), *(states.endswith(f"/{a}") for a in addresses))
                )
            )
        await self.conn.execute(identities.delete().where(identities.c.client_id == client_id))
