"""Which of a client's addresses a push goes to, and how it gets there.

A client may have several addresses (Telegram, WeChat, QQ…). A push goes to exactly one: of
those that can be reached now, the one the client chose (`clients.preferred`), else the one
they wrote from most recently; when none can be reached, the same order among all of them
(the delivery records why it failed). WeChat can be reached inside the customer-service
window (after the client's last action: a while, a few messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.schema import clients, identities, messages, wechat_windows

WECHAT = "wechat"
# How a push reaches an address: by the platform's ordinary send, inside WeChat's window, or
# not at all (outside the window).
DIRECT, WINDOW, OUTSIDE = "direct", "window", "outside"


def _window_open(window: Any, now: datetime) -> Any:
    return sa.and_(window.c.until > now, window.c.remaining > 0)


def best_address(now: datetime, channel: str | None = None) -> Any:
    """The address a push to the client goes to: a scalar subquery correlated to `clients`
    (only among `channel`'s addresses, when given)."""
    i = identities.alias("route")
    w = wechat_windows.alias("route_window")
    # The client's own row again, inside: SQLite cannot read an outer column in a correlated
    # subquery's ORDER BY.
    owner = clients.alias("route_owner")
    reachable = sa.case((i.c.channel != WECHAT, 1), (_window_open(w, now), 1), else_=0)
    last_in = (
        sa.select(sa.func.max(messages.c.id))
        .where(messages.c.chat == i.c.address, messages.c.direction == "in")
        .scalar_subquery()
    )
    query = (
        sa.select(i.c.address)
        .select_from(
            i.join(owner, owner.c.id == i.c.client_id).outerjoin(w, w.c.chat == i.c.address)
        )
        .where(i.c.client_id == clients.c.id)
        .order_by(
            reachable.desc(),
            sa.case((i.c.address == owner.c.preferred, 0), else_=1),
            sa.func.coalesce(last_in, 0).desc(),
            i.c.address,
        )
        .limit(1)
    )
    if channel is not None:
        query = query.where(i.c.channel == channel)
    return query.correlate(clients).scalar_subquery()


def route_of(address_table: Any, now: datetime) -> Any:
    """How a push reaches the address in `address_table` (a table or alias with `address`
    and `channel`): DIRECT, WINDOW or OUTSIDE, as an SQL expression."""
    w = wechat_windows.alias("reach_window")
    inside = (
        sa.select(sa.literal(1))
        .where(w.c.chat == address_table.c.address, _window_open(w, now))
        .exists()
    )
    return sa.case((address_table.c.channel != WECHAT, DIRECT), (inside, WINDOW), else_=OUTSIDE)
