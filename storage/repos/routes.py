"""Which of a client's addresses a push goes to, and how it gets there.

A client may have several addresses (Telegram, WeChat, QQ…). A push goes to exactly one: the
one the client chose (`clients.preferred`) if it can be reached now, else of those reachable
at no cost the one they wrote from most recently, else a WeChat mass send; when none can be
reached, the most recent of all (the delivery records why it failed).

WeChat can be reached inside the customer-service window (after the client's last action: a
while, a few messages), or, when the push may spend one (`mass`), by a service account's
mass send, of which a follower receives at most MONTHLY_MASS per calendar month."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from storage.schema import clients, identities, messages, wechat_mass_counts, wechat_windows

WECHAT = "wechat"
MONTHLY_MASS = 4
WECHAT_TZ = ZoneInfo("Asia/Shanghai")  # WeChat's calendar month
# How a push reaches an address: the platform's ordinary send, inside WeChat's window, a mass
# send; or not at all: outside the window (no mass send allowed), or the month's 4 spent.
DIRECT, WINDOW, MASS, OUTSIDE, FULL = "direct", "window", "mass", "outside", "full"
GONE = "gone"  # the client blocked the bot or unfollowed at this address
UNREACHED = (OUTSIDE, FULL, GONE)


def month_of(now: datetime) -> str:
    return now.astimezone(WECHAT_TZ).strftime("%Y-%m")


def _window_open(address: Any, now: datetime) -> Any:
    w = wechat_windows.alias("window_of")
    return (
        sa.select(sa.literal(1))
        .where(w.c.chat == address, w.c.until > now, w.c.remaining > 0)
        .exists()
    )


def _mass_left(address: Any, now: datetime) -> Any:
    c = wechat_mass_counts.alias("mass_of")
    used = (
        sa.select(c.c.count)
        .where(c.c.chat == address, c.c.month == month_of(now))
        .scalar_subquery()
    )
    return sa.func.coalesce(used, 0) < MONTHLY_MASS


def latest_first(address: Any) -> Any:
    """ORDER BY term: the address the client last wrote from first (via the partial index
    of inbound rows)."""
    last_in = (
        sa.select(sa.func.max(messages.c.id))
        .where(messages.c.chat == address, messages.c.direction == "in")
        .scalar_subquery()
    )
    return sa.func.coalesce(last_in, 0).desc()


def route_case(identity: Any, now: datetime, *, mass: bool) -> Any:
    """GONE, DIRECT, WINDOW, MASS, OUTSIDE or FULL for one address of `identity` (the
    identities table or an alias), as an SQL expression."""
    address, channel = identity.c.address, identity.c.channel
    whens: list[tuple[Any, str]] = [
        (identity.c.gone_at.is_not(None), GONE),
        (channel != WECHAT, DIRECT),
        (_window_open(address, now), WINDOW),
    ]
    if mass:
        whens.append((_mass_left(address, now), MASS))
    return sa.case(*whens, else_=FULL if mass else OUTSIDE)


def best_address(now: datetime, channel: str | None = None, *, mass: bool = False) -> Any:
    """The address a push to the client goes to: a scalar subquery correlated to `clients`
    (only among `channel`'s addresses, when given)."""
    i = identities.alias("route")
    # The client's own row again, inside: SQLite cannot read an outer column in a correlated
    # subquery's ORDER BY.
    owner = clients.alias("route_owner")
    route = route_case(i, now, mass=mass)
    query = (
        sa.select(i.c.address)
        .select_from(i.join(owner, owner.c.id == i.c.client_id))
        .where(i.c.client_id == clients.c.id)
        .order_by(
            # The client's choice if it can be reached; then a route that costs nothing
            # (a mass send spends one of the follower's 4 a month); the unreachable last.
            sa.case(
                (route == GONE, 4),
                (route.in_(UNREACHED), 3),
                (i.c.address == owner.c.preferred, 0),
                (route == MASS, 2),
                else_=1,
            ),
            latest_first(i.c.address),
            i.c.address,
        )
        .limit(1)
    )
    if channel is not None:
        query = query.where(i.c.channel == channel)
    return query.correlate(clients).scalar_subquery()
