"""A push whose route failed for good (the client blocked the bot, unfollowed, or WeChat's
window closed before it went) is tried once more on the client's next route that costs
nothing: another address of the same client, not yet tried for that broadcast."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.repos.routes import DIRECT, WINDOW, latest_first, route_case
from storage.schema import clients, identities
from storage.schema import messages as m

FOR_GOOD = ("blocked", "failed")  # a failed bulk row is never retried: its route is gone


class RerouteRepo(Repo):
    async def reroute(self, row_ids: Sequence[int]) -> list[str]:
        """For each first-part broadcast row among `row_ids` that ended for good, the same
        parts (and options) to the client's next free route, once per client and broadcast.
        Returns the addresses written to."""
        if not row_ids:
            return []
        rows = (
            await self.conn.execute(
                sa.select(m.c.broadcast_id, m.c.client_id, m.c.chat, m.c.error).where(
                    m.c.id.in_(list(row_ids)),
                    m.c.status.in_(FOR_GOOD),
                    m.c.broadcast_id.is_not(None),
                    m.c.client_id.is_not(None),
                    m.c.part == 0,
                )
            )
        ).all()
        written = []
        for row in rows:
            if row.error and "mass" in row.error:  # a mass send's own outcome: not a route
                continue
            target = await self._next(row.broadcast_id, row.client_id)
            if target is not None:
                await self._write(row.broadcast_id, row.client_id, row.chat, *target)
                written.append(target[0])
        return written

    async def _next(self, broadcast_id: int, client_id: int) -> tuple[str, str] | None:
        """(address, channel) of the client's best untried free route, if any."""
        tried = sa.select(m.c.chat).where(m.c.broadcast_id == broadcast_id)
        route = route_case(identities, self.now(), mass=False)
        query = (
            sa.select(identities.c.address, identities.c.channel)
            .join(clients, clients.c.id == identities.c.client_id)
            .where(
                identities.c.client_id == client_id,
                clients.c.erased_at.is_(None),
                identities.c.address.not_in(tried),
                route.in_((DIRECT, WINDOW)),
            )
            .order_by(
                sa.case((identities.c.address == clients.c.preferred, 0), else_=1),
                latest_first(identities.c.address),
                identities.c.address,
            )
            .limit(1)
        )
        found = (await self.conn.execute(query)).first()
        return (found.address, found.channel) if found else None

    async def _write(
        self, broadcast_id: int, client_id: int, was: str, chat: str, channel: str
    ) -> None:
        """The client's rows of the broadcast at `was` again at `chat`: the same parts in the
        same language, the options (buttons, and the language their numbered hint is in) on
        the last part as the broadcast wrote them (`broadcasts._rows_from`)."""
        original = (
            await self.conn.execute(
                sa.select(m.c.part, m.c.text, m.c.payload, m.c.priority)
                .where(
                    m.c.broadcast_id == broadcast_id,
                    m.c.client_id == client_id,
                    m.c.chat == was,
                )
                .order_by(m.c.part, m.c.id)
            )
        ).all()
        parts = {row.part: row for row in reversed(original)}  # one row a part, the first
        now = self.now()
        self.state.unannounced = True  # pending rows: see `TxState.unannounced`
        await self.conn.execute(
            m.insert(),
            [
                {
                    "direction": "out",
                    "channel": channel,
                    "chat": chat,
                    "client_id": client_id,
                    "kind": "text",
                    "text": row.text,
                    "payload": {**dict(row.payload), "rerouted_from": was},
                    "status": "pending",
                    "attempts": 0,
                    "locked": False,
                    "created_at": now,
                    "updated_at": now,
                    "bulk": True,
                    "priority": row.priority,
                    "broadcast_id": broadcast_id,
                    "part": part,
                }
                for part, row in sorted(parts.items())
            ],
        )
