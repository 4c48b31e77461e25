"""Current subscriptions plus their full history (who, when, via which channel)."""

from __future__ import annotations

import sqlalchemy as sa

from storage.records import SubscriptionEvent, aware
from storage.repos.base import Repo
from storage.repos.broadcasts import BroadcastRepo
from storage.schema import clients, identities
from storage.schema import subscription_events as events
from storage.schema import subscriptions as subs

_OF = sa.select(subs.c.topic_key).where(subs.c.client_id == sa.bindparam("client_id"))


class SubscriptionRepo(Repo):
    async def of(self, client_id: int) -> list[str]:
        rows = await self.conn.execute(_OF, {"client_id": client_id})
        return sorted(r.topic_key for r in rows)

    async def subscribe(self, client_id: int, topic_key: str, *, channel: str, actor: str) -> bool:
        """Subscribe; False when already subscribed (nothing written)."""
        if topic_key in await self.of(client_id):
            return False
        row = subs.insert().values(client_id=client_id, topic_key=topic_key, created_at=self.now())
        if not await self.insert_new(row):
            return False
        await self._event(client_id, topic_key, "subscribe", channel, actor)
        return True

    async def unsubscribe(
        self, client_id: int, topic_key: str, *, channel: str, actor: str
    ) -> bool:
        result = await self.conn.execute(
            subs.delete().where(subs.c.client_id == client_id, subs.c.topic_key == topic_key)
        )
        if not result.rowcount:
            return False
        await self._event(client_id, topic_key, "unsubscribe", channel, actor)
        # Nothing more from a broadcast to this topic that is under way.
        addresses = await self.conn.execute(
            sa.select(identities.c.address).where(identities.c.client_id == client_id)
        )
        await BroadcastRepo(self.conn, self.now, self.state).drop_recipient(
            [r.address for r in addresses], [topic_key]
        )
        return True

    async def unsubscribe_all(self, client_id: int, *, channel: str, actor: str) -> list[str]:
        """End every subscription; returns the topic keys that were stopped."""
        stopped = await self.of(client_id)
        for key in stopped:
            await self.unsubscribe(client_id, key, channel=channel, actor=actor)
        return stopped

    async def end_for_blocked(self, addresses: list[str]) -> int:
        """The people behind these chats blocked the bot: their subscriptions end (each in
        the history, actor "blocked"), and running broadcasts skip those chats. A client
        with another address keeps them: they are reached there instead (and no longer by
        choice at the blocked one)."""
        others = (
            sa.select(sa.func.count())
            .where(identities.c.client_id == clients.c.id)
            .correlate(clients)
            .scalar_subquery()
        )
        found = await self.conn.execute(
            sa.select(identities.c.address, identities.c.client_id, others.label("addresses"))
            .join(clients, clients.c.id == identities.c.client_id)
            .where(identities.c.address.in_(addresses))
        )
        await self.conn.execute(
            identities.update()
            .where(identities.c.address.in_(addresses))
            .values(gone_at=self.now())
        )
        ended = 0
        for row in found.all():
            if row.addresses > 1:
                await self.conn.execute(
                    clients.update()
                    .where(clients.c.id == row.client_id, clients.c.preferred == row.address)
                    .values(preferred=None)
                )
                continue
            channel = row.address.split(":", 1)[0]
            ended += len(
                await self.unsubscribe_all(row.client_id, channel=channel, actor="blocked")
            )
        await BroadcastRepo(self.conn, self.now, self.state).drop_recipient(addresses)
        return ended

    async def subscribers(self, topic_key: str) -> list[int]:
        rows = await self.conn.execute(
            sa.select(subs.c.client_id).where(subs.c.topic_key == topic_key)
        )
        return sorted(r.client_id for r in rows)

    async def history(self, client_id: int) -> list[SubscriptionEvent]:
        rows = await self.conn.execute(
            sa.select(events).where(events.c.client_id == client_id).order_by(events.c.id)
        )
        return [
            SubscriptionEvent(r.topic_key, r.action, r.channel, r.actor, aware(r.at))  # type: ignore[arg-type]
            for r in rows
        ]

    async def _event(
        self, client_id: int, topic_key: str, action: str, channel: str, actor: str
    ) -> None:
        await self.conn.execute(
            events.insert().values(
                client_id=client_id,
                topic_key=topic_key,
                action=action,
                channel=channel,
                actor=actor,
                at=self.now(),
            )
        )
