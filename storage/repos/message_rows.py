"""What the message repositories share: the row mapping and the status conditions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from storage.records import StoredMessage, aware
from storage.schema import messages as m

# Literals, not parameters: the planners only use the partial index when they can see them.
OUT = m.c.direction == sa.literal_column("'out'")
IN = m.c.direction == sa.literal_column("'in'")
PENDING = m.c.status == sa.literal_column("'pending'")
SENDING = m.c.status == sa.literal_column("'sending'")
HELD = m.c.status.in_((sa.literal_column("'sending'"), sa.literal_column("'queued'")))
RECEIVED = m.c.status == sa.literal_column("'received'")
FINAL_OUT = frozenset({"sent", "failed", "blocked", "ambiguous", "cancelled"})


def message_of(row: Any) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        direction=row.direction,
        channel=row.channel,
        chat=row.chat,
        sender=row.sender,
        client_id=row.client_id,
        kind=row.kind,
        text=row.text,
        payload=dict(row.payload or {}),
        status=row.status,
        attempts=row.attempts,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        reply_to=row.reply_to,
        platform_id=row.platform_id,
        error=row.error,
        locked=row.locked,
        next_attempt_at=aware(row.next_attempt_at),
        bulk=bool(row.bulk),
        priority=row.priority,
        lease_owner=row.lease_owner,
        updated_at=aware(row.updated_at),
        dedupe_key=row.dedupe_key,
    )


def same_columns(values: list[dict[str, Any]]) -> None:
    """An executemany takes its columns from the first row: every row must name the same."""
    first = set(values[0])
    if any(set(v) != first for v in values):
        raise ValueError("rows of one batch must set the same columns")


def utc(when: datetime) -> datetime:
    return when.astimezone(UTC)  # SQLite compares the stored text: always UTC
