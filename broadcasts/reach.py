"""The reach plan in words: how many clients each route reaches, and who cannot be reached
and why, e.g. "Telegram 1,000 · 微信客服消息 300 · 微信群发 700(本月第 2/4 次)· QQ 150 ·
无法送达 50(微信 48 小时窗口外 50)"."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Markup, Translator

# Routes that reach nobody (storage.repos.routes.UNREACHED, by name).
UNREACHED = frozenset({"outside", "full", "gone", "day", "group_day", "nosms", "consent", "optout"})


def routes_text(t: Translator, reach: dict[str, int], mass: dict[str, Any] | None = None) -> str:
    """`reach` as from `BroadcastRepo.reach`: {"telegram.direct": n, "wechat.window": n,
    "wechat.outside": n, …}; `mass` as from `BroadcastRepo.mass_outlook`: what the mass
    send spends (the followers' k-th of the month, or a subscription account's day)."""
    mass = mass or {}
    parts: list[str] = []
    unreached: list[str] = []
    for key in sorted(reach, key=lambda k: (-reach[k], k)):
        n = reach[key]
        if not n:
            continue
        channel, _, how = key.partition(".")
        if how == "gone":
            unreached.append(t("reach.why_gone", channel=channel_name(t, channel), n=f"{n:,}"))
        elif how == "day":
            used_by = mass.get("used_by")
            why = "reach.why_day_wechat" if used_by else "reach.why_day_spent_wechat"
            unreached.append(t(why, n=f"{n:,}", id=used_by or ""))
        elif how in ("outside", "full", "group_day", "nosms", "consent", "optout"):
            unreached.append(t(f"reach.why_{how}_{channel}", n=f"{n:,}"))
        elif how == "mass" and mass.get("kind") == "tag":
            parts.append(t(f"reach.tag_{channel}", n=f"{n:,}"))
        elif how == "mass" and mass.get("nth"):
            parts.append(t(f"reach.nth_{channel}", n=f"{n:,}", nth=mass["nth"]))
        elif how in ("window", "mass", "group"):
            parts.append(t(f"reach.{how}_{channel}", n=f"{n:,}"))
        else:
            parts.append(t("reach.direct", channel=channel_name(t, channel), n=f"{n:,}"))
    lost = sum(n for k, n in reach.items() if k.split(".", 1)[1] in UNREACHED)
    if lost:
        parts.append(
            t("reach.unreached", n=f"{lost:,}", why=t("common.list_separator").join(unreached))
        )
    return t("reach.line", routes=Markup(t("reach.sep").join(parts) or t("reach.nobody")))


def channel_name(t: Translator, channel: str) -> str:
    """A channel as people call it (微信, Telegram…), or its code where the catalog has none."""
    key = f"broadcast.channel_{channel}"
    return t(key) if t.has(key) else channel
