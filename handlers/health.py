"""/status for staff: each channel's health, what waits to go out on it, and whether this
process is the one that sends for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.health import ChannelHealth, Health
from bot.core.health.notices import label
from bot.core.i18n import Translator
from bot.core.middlewares import Policy
from bot.core.router import Router
from bot.core.types import Outbound
from storage.tx import Tx

router = Router("health")

Waiting = dict[str, tuple[int, datetime]]


@router.command("status", roles=("staff",))
async def status(
    tx: Tx, t: Translator, policy: Policy, health: Health, sends_for: Callable[[str], bool]
) -> Outbound:
    waiting = await tx.messages.waiting()
    now = tx.now()
    lines = [t("health.status_title")]
    listed: set[str] = set()
    for channel in health.channels():
        routes = health.routes_of(channel.channel)
        listed.update(routes)
        lead = t("health.leads") if any(sends_for(r) for r in routes) else t("health.not_leading")
        lines.append(
            t(
                "health.line",
                channel=label(t, channel.channel),
                state=_state(t, channel, now, policy),
                queue=_queue(t, waiting, routes, now),
                lead=lead,
            )
        )
    for route in sorted(set(waiting) - listed):  # rows for a channel this process does not run
        queue = _queue(t, waiting, [route], now)
        lines.append(t("health.line_elsewhere", channel=label(t, route), queue=queue))
    return Outbound("\n".join(lines))


def _state(t: Translator, channel: ChannelHealth, now: datetime, policy: Policy) -> str:
    if channel.since is None:
        return t("health.state_up")
    since, today = channel.since.astimezone(policy.tz), now.astimezone(policy.tz)
    shown = f"{since:%H:%M}" if since.date() == today.date() else f"{since:%m-%d %H:%M}"
    return t("health.state_down", since=shown, error=channel.error or "-")


def _queue(t: Translator, waiting: Waiting, routes: list[str], now: datetime) -> str:
    found = [waiting[r] for r in routes if r in waiting]
    n = sum(count for count, _ in found)
    if not n:
        return t("health.queue_empty")
    oldest = min(at for _, at in found)
    return t("health.queue", n=n, age=t.span(now - oldest))
