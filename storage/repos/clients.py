"""Clients and the platform identities that lead to them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage.records import Client, Context, ConversationState, Identity, aware
from storage.repos.base import VERSION_KEY, Repo, is_duplicate
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.client_files import ClientFileRepo
from storage.repos.faq_learning import FaqLearningRepo
from storage.repos.tickets import TicketRepo
from storage.repos.wecom_questions import WecomQuestionRepo
from storage.repos.wecom_sessions import WecomSessionRepo
from storage.schema import (
    bind_codes,
    clients,
    conversation_states,
    faq_unanswered,
    identities,
    messages,
    meta,
    roles,
)


def _client(row: Any) -> Client:
    return Client(
        id=row.id,
        display_name=row.display_name,
        language=row.language,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        erased_at=aware(row.erased_at),
    )


def _context_query() -> sa.Select[Any]:
    """One statement: client, roles, state and the config version, whatever exists. Built
    once: constructing it per event cost more than running it."""
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    cs = conversation_states
    address, state_key = sa.bindparam("address"), sa.bindparam("state_key")
    version = sa.select(meta.c.value).where(meta.c.key == VERSION_KEY).scalar_subquery()
    joined = (
        one.outerjoin(identities, identities.c.address == address)
        .outerjoin(clients, clients.c.id == identities.c.client_id)
        .outerjoin(roles, roles.c.address == address)
        .outerjoin(cs, cs.c.chat == state_key)
    )
    return sa.select(
        identities.c.gone_at,
        clients.c.id,
        clients.c.display_name,
        clients.c.language,
        clients.c.created_at,
        clients.c.erased_at,
        roles.c.role,
        cs.c.state,
        cs.c.data.label("state_data"),
        version.label("version"),
    ).select_from(joined)


CONTEXT = _context_query()


class ClientRepo(Repo):
    async def context(self, address: str, state_key: str) -> Context:
        """The client behind `address` (None before first contact), the roles granted to it,
        and the conversation state under `state_key`, in one round trip."""
        params = {"address": address, "state_key": state_key}
        rows = (await self.conn.execute(CONTEXT, params)).all()
        first = rows[0]
        self.state.version = first.version or ""
        if first.gone_at is not None:  # they write from here again: reachable here again
            await self.conn.execute(
                identities.update().where(identities.c.address == address).values(gone_at=None)
            )
        client = _client(first) if first.id is not None else None
        state = (
            ConversationState(state_key, first.state, dict(first.state_data or {}))
            if first.state is not None
            else None
        )
        granted = frozenset(r.role for r in rows if r.role is not None)
        return Context(client, granted, state)

    async def ensure(
        self,
        address: str,
        found: Client | None,
        *,
        language: str,
        display_name: str | None,
        username: str | None,
    ) -> tuple[Client, bool]:
        """`found` (from `context`) with its display name kept current, or a new client."""
        if found is None:
            return await self.get_or_create(
                address, language=language, display_name=display_name, username=username
            )
        if display_name and display_name != found.display_name:
            await self._rename(found.id, display_name)
            found = Client(
                found.id, display_name, found.language, found.created_at, found.erased_at
            )
        return found, False

    async def _rename(self, client_id: int, display_name: str) -> None:
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(display_name=display_name, updated_at=self.now())
        )

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
                await self._rename(found.id, display_name)
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
        self.state.touched.add(client_id)
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(language=language, updated_at=self.now())
        )

    async def erase(self, client_id: int) -> None:
        """Erase personal data; records the law keeps (archive, history) are locked, not deleted.

        The platform identities go, so the person is a stranger to the bot afterwards.
        """
        self.state.touched.add(client_id)
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
        await BroadcastRepo(self.conn, self.now, self.state).drop_recipient(addresses)
        await self.conn.execute(identities.delete().where(identities.c.client_id == client_id))
        await self.conn.execute(bind_codes.delete().where(bind_codes.c.client_id == client_id))
        await ClientFileRepo(self.conn, self.now, self.state).erase(client_id)
        await FaqLearningRepo(self.conn, self.now, self.state).forget(client_id)
        await WecomQuestionRepo(self.conn, self.now, self.state).forget(client_id, addresses)
        await WecomSessionRepo(self.conn, self.now, self.state).forget(addresses)
        await TicketRepo(self.conn, self.now, self.state).lock_client(client_id)
