"""Conversation state a handler can read and change; stored in the database per chat."""

from __future__ import annotations

from typing import Any

from storage.records import ConversationState
from storage.tx import Tx


class StateControl:
    def __init__(self, tx: Tx, chat: str, current: ConversationState | None) -> None:
        self._tx = tx
        self._chat = chat
        self.current = current

    @property
    def name(self) -> str | None:
        return self.current.state if self.current else None

    async def set(self, state: str, **data: Any) -> None:
        await self._tx.states.set(self._chat, state, data)
        self.current = ConversationState(self._chat, state, data)

    async def clear(self) -> None:
        if self.current is not None:
            await self._tx.states.clear(self._chat)
            self.current = None
