"""Middlewares that prepare the context: the client, their roles, state and language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.commands import command_buttons
from bot.core.dispatcher import Middleware, Next
from bot.core.i18n import Translator
from bot.core.numbered import numbered_replies
from bot.core.state import StateControl
from bot.core.types import Inbound, Outbound

ROLES = ("client", "advisor", "staff", "admin")


@dataclass(frozen=True, slots=True)
class Policy:
    """The few settings the core needs, handed in by the composition root."""

    admins: frozenset[str]
    default_language: str = "zh"
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


async def load_client(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    policy: Policy = ctx["policy"]
    client, created = await ctx["tx"].clients.get_or_create(
        event.sender,
        language=policy.default_language,
        display_name=event.display_name,
        username=event.username,
    )
    ctx["client"], ctx["new_client"] = client, created
    return await call_next(event, ctx)


async def load_roles(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    policy: Policy = ctx["policy"]
    roles = {"client"} | await ctx["tx"].roles.of(event.sender)
    if event.sender in policy.admins:
        roles.add("admin")
    if event.view_as == "client":
        roles = {"client"}
    ctx["roles"] = frozenset(roles)
    ctx["role"] = next(r for r in reversed(ROLES) if r in roles)
    return await call_next(event, ctx)


def state_key(event: Inbound) -> str:
    """A flow belongs to a person: in a group, one member must never answer another's
    question (a confirmation to erase data, say)."""
    return event.chat if event.chat == event.sender else f"{event.chat}/{event.sender}"


async def load_state(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    key = state_key(event)
    current = await ctx["tx"].states.get(key)
    ctx["state"] = current
    ctx["fsm"] = StateControl(ctx["tx"], key, current)
    return await call_next(event, ctx)


async def bind_language(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    translator: Translator = ctx["t"]
    ctx["t"] = translator.with_lang(ctx["client"].language)
    return await call_next(event, ctx)


DEFAULT_MIDDLEWARES: list[Middleware] = [
    load_client,
    load_roles,
    load_state,
    bind_language,
    numbered_replies,
    command_buttons,
]
