"""What `/metrics` reads from the database when it is scraped: a few grouped counts, each
one statement on an index or a small table. Each returns plain rows; the caller decides
what a failing one costs (the metric family is left out of that scrape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.repos.routes import MONTHLY_MASS, day_of, month_of
from storage.repos.tickets import ACTIVE
from storage.schema import (
    leases,
    messages,
    meta,
    sms_receipts,
    tickets,
    wechat_mass_counts,
    wechat_mass_days,
    wechat_windows,
)

# Outbox rows not yet final: waiting, claimed by a worker, being sent.
OPEN_OUT = ("pending", "queued", "sending")
SMS_STOPPED_KEY = "sms.stopped"  # meta: why the SMS account cannot send ("" when it can)


def _aware(value: datetime | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=now.tzinfo)


async def outbox(conn: Any, now: datetime) -> list[tuple[str, str, int, float]]:
    """(channel, state, rows, age in seconds of the oldest) of the outbox not yet final."""
    m = messages.c
    rows = await conn.execute(
        sa.select(m.channel, m.status, sa.func.count(), sa.func.min(m.created_at))
        .where(m.direction == "out", m.status.in_(OPEN_OUT))
        .group_by(m.channel, m.status)
    )
    out = []
    for channel, status, n, oldest in rows:
        when = _aware(oldest, now)
        out.append(
            (channel, status, int(n), max(0.0, (now - when).total_seconds()) if when else 0.0)
        )
    return out


async def lease_holders(conn: Any, now: datetime) -> list[tuple[str, str]]:
    """(lease, owner) of every lease held now."""
    rows = await conn.execute(sa.select(leases.c.name, leases.c.owner, leases.c.until))
    return [(name, owner) for name, owner, until in rows if _aware(until, now) > now]


async def tickets_open(conn: Any, now: datetime) -> list[tuple[str, int, int]]:
    """(kind, open, past their first-response time without one) of active tickets."""
    t = tickets.c
    breached = sa.and_(t.responded_at.is_(None), t.due_at < now)
    rows = await conn.execute(
        sa.select(t.kind, sa.func.count(), sa.func.count().filter(breached))
        .where(t.status.in_(ACTIVE), t.locked.is_(False))
        .group_by(t.kind)
    )
    return [(kind, int(n), int(late)) for kind, n, late in rows]


async def wechat(conn: Any, now: datetime) -> tuple[int, int, int]:
    """(48-hour windows open with messages left, followers who had this month's
    MONTHLY_MASS mass sends, a subscription account's send of the day left: 1 or 0)."""
    w = wechat_windows.c
    windows = await conn.scalar(sa.select(sa.func.count()).where(w.until > now, w.remaining > 0))
    c = wechat_mass_counts.c
    full = await conn.scalar(
        sa.select(sa.func.count()).where(c.month == month_of(now), c.count >= MONTHLY_MASS)
    )
    used = await conn.scalar(
        sa.select(sa.func.count()).where(wechat_mass_days.c.day == day_of(now))
    )
    return int(windows or 0), int(full or 0), 0 if used else 1


async def sms(conn: Any) -> tuple[int, bool]:
    """(parts billed, as receipts told, whether the account is stopped: balance, template …)."""
    parts = await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(sms_receipts.c.parts), 0)))
    stopped = await conn.scalar(sa.select(meta.c.value).where(meta.c.key == SMS_STOPPED_KEY))
    return int(parts or 0), bool(stopped)
