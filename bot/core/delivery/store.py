"""The one narrow door between the delivery engine and where outbox rows live.

Implemented by `storage.sql_outbox.SqlOutbox` (the database) and
`storage.memory_outbox.MemoryOutbox` (the reference, and the engine's unit tests); one
contract suite (tests/storage/test_outbox_contract.py) holds both to the same behaviour.
Each call is one transaction. Owners are lease owners (`bot.core.owner`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from storage.records import Outcome, StoredMessage
from storage.tx import Tx

# Work that must commit with the outcomes (notices about undelivered relays): only a store
# over the database can run it.
Then = Callable[[Tx], Awaitable[None]]


class OutboxStore(Protocol):
    def now(self) -> datetime:
        """The wall clock rows are stamped with (aware UTC)."""

    async def claim(
        self,
        channel: str,
        *,
        owner: str,
        until: datetime,
        limit: int,
        chats: Sequence[str] | None = None,
    ) -> tuple[list[StoredMessage], datetime | None]:
        """Up to `limit` due pending rows of `channel` in delivery order, now ours until
        `until` (bulk ones `queued`, replies `sending`); with fewer than `limit`, also when
        the next pending row falls due (None: none pending)."""

    async def mark_sending(self, owner: str, ids: Sequence[int]) -> set[int]:
        """Queued bulk rows about to be tried become `sending`; those still ours."""

    async def finish(
        self, owner: str, outcomes: Sequence[Outcome], then: Then | None = None
    ) -> None:
        """Write outcomes of rows we hold (others' are left alone); a moved row's chat takes
        its other waiting rows along; `then` runs in the same transaction."""

    async def renew(
        self,
        owner: str,
        until: datetime,
        *,
        unwritten: Sequence[Outcome] = (),
        leases: Sequence[str] = (),
        dead: Sequence[str] = (),
    ) -> set[str]:
        """Renew our row leases, write `unwritten` outcomes, take or keep the named leases
        (free, ours, expired, or held by the `dead`); the names we hold now."""

    async def expire(
        self,
        channel: str,
        *,
        dead: Sequence[str] = (),
        chats: Sequence[str] | None = None,
        keep: str | None = None,
    ) -> tuple[int, int]:
        """Rows of expired or dead owners (never `keep`'s): untried and replies go back to
        pending, bulk under way becomes `ambiguous`. Returns (requeued, ambiguous)."""

    async def release(
        self, owner: str, ids: Sequence[int] | None = None, *, leases: Sequence[str] = ()
    ) -> int:
        """Hand held rows back to pending (these `ids`, or all) and give up named leases."""

    async def owners(self) -> set[str]:
        """Every owner of a held row or a named lease."""
