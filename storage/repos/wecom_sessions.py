"""Which 微信客服 sessions a person holds in the WeCom app, as WeCom's messages and events
said (a servicer's message, session_status_change) and as the bot changed them."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import wecom_sessions as s

HUMAN = 3


class WecomSessionRepo(Repo):
    async def states(self, chats: Iterable[str]) -> dict[str, tuple[int, str | None]]:
        """(state, servicer) of the chats that have one recorded."""
        wanted = list(dict.fromkeys(chats))
        if not wanted:
            return {}
        rows = await self.conn.execute(
            sa.select(s.c.chat, s.c.state, s.c.servicer).where(s.c.chat.in_(wanted))
        )
        return {r.chat: (r.state, r.servicer) for r in rows}

    async def set(self, chat: str, state: int, servicer: str | None = None) -> None:
        await self.upsert(
            s, {"chat": chat}, {"state": state, "servicer": servicer, "updated_at": self.now()}
        )

    async def held(self, chat: str) -> str | None:
        """The servicer holding the chat's session, if a person does."""
        row = (
            await self.conn.execute(sa.select(s.c.state, s.c.servicer).where(s.c.chat == chat))
        ).first()
        return (row.servicer or "?") if row is not None and row.state == HUMAN else None

    async def forget(self, chats: Iterable[str]) -> None:
        """/deleteme: nothing kept about the client's sessions."""
        gone = list(chats)
        if gone:
            await self.conn.execute(s.delete().where(s.c.chat.in_(gone)))
