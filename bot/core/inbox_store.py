"""What the inbox needs of storage for its leases: taking over events a dead process left
unhandled, and counting the attempts of such an event (to quarantine a poison one).

Implemented by `storage.sql_inbox.SqlInbox` and, as a reference held to the same contract
(tests/storage/test_inbox_contract.py), `storage.memory_inbox.MemoryInbox`. Handling itself
runs in the handlers' database transaction, so it is not behind this door.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from storage.records import StoredMessage


class InboxStore(Protocol):
    async def take_over(
        self,
        *,
        owner: str,
        until: datetime,
        dead: Sequence[str] = (),
        channels: Sequence[str] | None = None,
        chats: Sequence[str] = (),
        limit: int = 1000,
    ) -> list[StoredMessage]:
        """Events recorded but unhandled whose lease ran out (or whose owner is `dead`),
        oldest first, now leased to `owner` until `until`; with `channels`, only those of
        the channels or of `chats`."""

    async def count_attempt(self, message_id: int, *, max_tries: int, error: str) -> int:
        """One more handling attempt starts, committed before it runs; past `max_tries` the
        event is set aside as failed with `error`. The attempts so far, this one too."""
