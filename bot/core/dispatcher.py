"""Runs one event through the middlewares and the first matching route that does not decline."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from bot.core.router import UNHANDLED, Route, Router, SkipHandler
from bot.core.types import Inbound, Outbound

log = logging.getLogger(__name__)

Next = Callable[[Inbound, dict[str, Any]], Awaitable[list[Outbound]]]
Middleware = Callable[[Next, Inbound, dict[str, Any]], Awaitable[list[Outbound]]]


def as_list(result: Any) -> list[Outbound]:
    """Handlers may return nothing, one Outbound, a string, or a list of them."""
    if result is None:
        return []
    if isinstance(result, str):
        return [Outbound(result)]
    if isinstance(result, Outbound):
        return [result]
    return [o if isinstance(o, Outbound) else Outbound(str(o)) for o in result]


def allowed(route: Route, roles: frozenset[str]) -> bool:
    return not route.roles or "admin" in roles or bool(route.roles & roles)


class Dispatcher:
    def __init__(self, root: Router, middlewares: list[Middleware]) -> None:
        # Stable sort: tier decides first, then the order routers were included.
        self.routes = sorted(root.walk(), key=lambda r: r.tier)
        self.middlewares = middlewares

    async def dispatch(self, event: Inbound, context: dict[str, Any]) -> list[Outbound]:
        chain: Next = self._route
        for middleware in reversed(self.middlewares):
            chain = partial(middleware, chain)
        return await chain(event, context)

    async def _route(self, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
        before: list[Outbound] = []  # replies of handlers that declined, sent first
        for route in self.routes:
            extra = route.matcher(event, ctx)
            if extra is None:
                continue
            if not allowed(route, ctx.get("roles", frozenset())):
                # A route the sender may not use is refused, not passed over: a client typing
                # a staff command is told so rather than answered by the FAQ.
                return [*before, *await self._refuse(event, ctx, route)]
            try:
                result = await route.handler(**route.call_args({**ctx, **extra}))
            except SkipHandler as declined:
                before += declined.before
                continue
            if result is UNHANDLED:
                continue
            return [*before, *as_list(result)] if before else as_list(result)
        return before

    async def _refuse(self, event: Inbound, ctx: dict[str, Any], route: Route) -> list[Outbound]:
        log.warning(
            "refused %s to %s (roles %s)",
            route.handler.__qualname__,
            event.sender,
            sorted(ctx.get("roles", ())),
        )
        await ctx["tx"].audit.log(
            event.sender,
            "refused",
            command=event.command,
            text=event.text[:200],
            needs=sorted(route.roles),
        )
        t, roles = ctx["t"], ctx.get("roles", frozenset())
        if roles - {"client"}:  # a colleague: say which role the command needs
            names = t("common.list_separator").join(t(f"role.{r}") for r in sorted(route.roles))
            return [Outbound(t("errors.needs_role", roles=names, role=t(f"role.{ctx['role']}")))]
        return [Outbound(t("errors.not_allowed"))]
