"""Conversation state per chat, so multi-step flows survive restarts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.records import ConversationState
from storage.repos.base import Repo
from storage.schema import conversation_states as cs


class StateRepo(Repo):
    async def get(self, chat: str) -> ConversationState | None:
        row = (await self.conn.execute(sa.select(cs).where(cs.c.chat == chat))).first()
        return ConversationState(row.chat, row.state, dict(row.data)) if row else None

    async def set(self, chat: str, state: str, data: dict[str, Any] | None = None) -> None:
        values = {"state": state, "data": data or {}, "updated_at": self.now()}
        await self.upsert(cs, {"chat": chat}, values)

    async def clear(self, chat: str) -> None:
        await self.conn.execute(cs.delete().where(cs.c.chat == chat))
