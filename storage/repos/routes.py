"""Which of a client's addresses a push goes to, and how it gets there.

A client may have several addresses (Telegram, WeChat, QQ…). A push goes to exactly one: the
one the client chose (`clients.preferred`) if it can be reached now, else of those reachable
at no cost the one they wrote from most recently, else a WeChat mass send; when none can be
reached, the most recent of all (the delivery records why it failed).

WeChat can be reached inside the customer-service window (after the client's last action: a
while, a few messages), or, when the push may spend one (`mass`), by a mass send:
- LIST: a service account's send to an OpenID list, of which a follower receives at most
  MONTHLY_MASS per calendar month;
- TAG: a subscription account's one send a day, to everyone with the topic's WeChat tag. It
  reaches each tagged follower whatever their window, so it is their route for that push
  (anything else would be a second copy);
- DAY: a subscription account's send of the day went to another push already.

SMS (`sms:` addresses, a client's phone on file) costs money: it comes after every free route
and the mass sends, unless the client chose it. A push goes by SMS only as its `sms` mode
allows: None, SMS is off (the addresses are not routes at all); "", this push does not go by
SMS; "notice", about the client's own account (no consent needed); "alert" or "marketing",
a topic text, only to a client who consented whose number did not reply to opt out."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from storage.schema import (
    clients,
    identities,
    messages,
    sms_opt_outs,
    wechat_mass_counts,
    wechat_windows,
    wecom_contacts,
    wecom_group_days,
)

WECHAT = "wechat"
# Channels that allow messages only for a while after the client's last one: the official
# account and WeCom's 微信客服 (both 5 messages within 48 hours).
WINDOWED = (WECHAT, "wecom")
MONTHLY_MASS = 4
WECHAT_TZ = ZoneInfo("Asia/Shanghai")  # WeChat's calendar month
# How a push reaches an address: the platform's ordinary send, inside WeChat's window, a mass
# send; or not at all: outside the window (no mass send allowed), or the month's 4 spent.
DIRECT, WINDOW, MASS, OUTSIDE, FULL = "direct", "window", "mass", "outside", "full"
GONE = "gone"  # the client blocked the bot or unfollowed at this address
DAY_USED = "day"  # outside the window; the subscription account's send of the day is spent
# WeCom: an advisor's group message to their client (confirmed by the advisor), one a day.
GROUP, GROUP_DAY = "group", "group_day"
WECOM = "wecom"
SMS = "sms"
# SMS that cannot carry this push: not by SMS at all, no consent, or the number opted out.
SMS_NONE, NO_CONSENT, OPTED_OUT = "nosms", "consent", "optout"
SMS_KINDS = ("notice", "alert", "marketing")
UNREACHED = (OUTSIDE, FULL, GONE, DAY_USED, GROUP_DAY, SMS_NONE, NO_CONSENT, OPTED_OUT)
# What a push may spend on followers outside the window (the `mass` argument below).
LIST, TAG, DAY = "list", "tag", "day"


def month_of(now: datetime) -> str:
    return now.astimezone(WECHAT_TZ).strftime("%Y-%m")


def day_of(now: datetime) -> str:
    """WeChat's and WeCom's day (Beijing time): a subscription account's one mass send, a
    client's one group message."""
    return now.astimezone(WECHAT_TZ).strftime("%Y-%m-%d")


def _a_contact(address: Any) -> Any:
    c = wecom_contacts.alias("contact_of")
    return sa.select(sa.literal(1)).where(c.c.chat == address).exists()


def _grouped_today(address: Any, now: datetime) -> Any:
    d = wecom_group_days.alias("grouped")
    return sa.select(sa.literal(1)).where(d.c.chat == address, d.c.day == day_of(now)).exists()


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


def tag_member(identity: Any, owner: Any = clients) -> Any:
    """Whether a WeChat address carries its client's topic tags: a live follower whose
    client has not chosen another live address for pushes (a tagged follower gets the tag's
    mass send, so a client reached elsewhere must not be tagged)."""
    other = identities.alias("preferred_live")
    chosen_elsewhere = sa.and_(
        owner.c.preferred.is_not(None),
        owner.c.preferred != identity.c.address,
        sa.exists().where(
            other.c.address == owner.c.preferred,
            other.c.client_id == owner.c.id,
            other.c.gone_at.is_(None),
        ),
    )
    return sa.and_(
        identity.c.channel == WECHAT, identity.c.gone_at.is_(None), sa.not_(chosen_elsewhere)
    )


def mass_mode(mass: object) -> str | None:
    """LIST, TAG, DAY or None from a push's `wechat_mass` (True: a service account's)."""
    if mass is True:
        return LIST
    return mass if mass in (LIST, TAG, DAY) else None  # type: ignore[return-value]


def _sms_whens(identity: Any, owner: Any, sms: str | None) -> list[tuple[Any, str]]:
    """How an `sms:` address carries a push of this SMS mode (see the module's words)."""
    is_sms = identity.c.channel == SMS
    if sms not in SMS_KINDS:
        return [(is_sms, SMS_NONE)]
    if sms == "notice":
        return [(is_sms, SMS)]
    number = sa.func.substr(identity.c.address, len(SMS) + 2)
    opted = sa.select(sa.literal(1)).where(sms_opt_outs.c.number == number).exists()
    return [
        (sa.and_(is_sms, opted), OPTED_OUT),
        (sa.and_(is_sms, owner.c.sms_consent.is_not(True)), NO_CONSENT),
        (is_sms, SMS),
    ]


def route_case(
    identity: Any,
    now: datetime,
    *,
    mass: object,
    owner: Any = clients,
    group: bool = False,
    sms: str | None = None,
) -> Any:
    """GONE, DIRECT, WINDOW, MASS, OUTSIDE, FULL, DAY_USED, GROUP, GROUP_DAY, SMS or why SMS
    cannot carry it, for one address of `identity` (the identities table or an alias, its
    client `owner`), as an SQL expression. `group`: a WeCom client outside the window may get
    an advisor's group message (a push; not a reply). `sms`: the push's SMS mode."""
    address, channel = identity.c.address, identity.c.channel
    mode = mass_mode(mass)
    whens: list[tuple[Any, str]] = [
        (identity.c.gone_at.is_not(None), GONE),
        *_sms_whens(identity, owner, sms),
        (channel.not_in(WINDOWED), DIRECT),
    ]
    if mode == TAG:
        whens.append((tag_member(identity, owner), MASS))
    whens.append((_window_open(address, now), WINDOW))
    if group:
        contact = sa.and_(channel == WECOM, _a_contact(address))
        whens.append((sa.and_(contact, sa.not_(_grouped_today(address, now))), GROUP))
        whens.append((contact, GROUP_DAY))
    whens.append((channel != WECHAT, OUTSIDE))  # mass sends are the official account's
    if mode == LIST:
        whens.append((_mass_left(address, now), MASS))
    unreached = {LIST: FULL, DAY: DAY_USED}.get(mode or "", OUTSIDE)
    return sa.case(*whens, else_=unreached)


def best_address(
    now: datetime,
    channel: str | None = None,
    *,
    mass: object = None,
    group: bool = False,
    sms: str | None = None,
) -> Any:
    """The address a push to the client goes to: a scalar subquery correlated to `clients`
    (only among `channel`'s addresses, when given). With SMS off (`sms` None) a client's
    `sms:` address is no route at all."""
    i = identities.alias("route")
    # The client's own row again, inside: SQLite cannot read an outer column in a correlated
    # subquery's ORDER BY.
    owner = clients.alias("route_owner")
    route = route_case(i, now, mass=mass, owner=owner, group=group, sms=sms)
    tagged = mass_mode(mass) == TAG
    query = (
        sa.select(i.c.address)
        .select_from(i.join(owner, owner.c.id == i.c.client_id))
        .where(i.c.client_id == clients.c.id)
        .order_by(
            # The client's choice if it can be reached; then a route that costs nothing
            # (a list mass send spends one of the follower's 4 a month); the unreachable
            # last. A tag's mass send reaches its followers anyway: it comes first.
            # SMS costs money: after the mass sends, unless the client chose it.
            sa.case(
                (route == GONE, 5),
                (route.in_(UNREACHED), 4),
                *([(route == MASS, -1)] if tagged else []),
                (i.c.address == owner.c.preferred, 0),
                (route == SMS, 3),
                (route.in_((MASS, GROUP)), 2),
                else_=1,
            ),
            latest_first(i.c.address),
            i.c.address,
        )
        .limit(1)
    )
    if channel is not None:
        query = query.where(i.c.channel == channel)
    if sms is None:
        query = query.where(i.c.channel != SMS)
    return query.correlate(clients).scalar_subquery()
