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


def state_key(event: Inbound) -> str:
    """A flow belongs to a person: in a group, one member must never answer another's
    question (a confirmation to erase data, say)."""
    return event.chat if event.chat == event.sender else f"{event.chat}/{event.sender}"


async def load_context(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    """The client (created on first contact), their roles and their conversation state,
    read in one round trip."""
    policy: Policy = ctx["policy"]
    tx = ctx["tx"]
    key = state_key(event)
    found = await tx.clients.context(event.sender, key)
    client, created = await tx.clients.ensure(
        event.sender,
        found.client,
        language=policy.default_language,
        display_name=event.display_name,
        username=event.username,
    )
    ctx["client"], ctx["new_client"] = client, created
    roles = {"client", *found.roles}
    if event.sender in policy.admins:
        roles.add("admin")
    if event.view_as == "client":
        roles = {"client"}
    ctx["roles"] = frozenset(roles)
    ctx["role"] = next(r for r in reversed(ROLES) if r in roles)
    ctx["state"] = found.state
    ctx["fsm"] = StateControl(tx, key, found.state)
    return await call_next(event, ctx)


async def bind_language(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    translator: Translator = ctx["t"]
    ctx["t"] = translator.with_lang(ctx["client"].language)
    return await call_next(event, ctx)


DEFAULT_MIDDLEWARES: list[Middleware] = [
    load_context,
    bind_language,
    numbered_replies,
    command_buttons,
]
