"""A router tree in the spirit of aiogram's: handlers matched by command, keyword,
button callback or conversation state, with dependencies injected by parameter name."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from bot.core.text import clean_input
from bot.core.types import Inbound

Handler = Callable[..., Awaitable[Any]]
# A matcher looks at the event and its context; a dict (possibly empty) means "mine",
# and its items are offered to the handler as extra parameters.
Matcher = Callable[[Inbound, dict[str, Any]], dict[str, Any] | None]
# Typed on their own, these always leave a multi-step flow instead of feeding it.
CANCEL_WORDS = frozenset({"取消", "退出", "cancel", "/cancel"})


class Tier(IntEnum):
    """Which kind of handler wins when several match: earlier tiers first."""

    CALLBACK = 0
    COMMAND = 1
    STATE = 2
    KEYWORD = 3
    FALLBACK = 4


@dataclass(slots=True)
class Route:
    tier: Tier
    matcher: Matcher
    handler: Handler
    roles: frozenset[str] = frozenset()  # empty: anyone
    params: tuple[str, ...] = field(default=())

    def call_args(self, context: dict[str, Any]) -> dict[str, Any]:
        missing = [p for p in self.params if p not in context]
        if missing:
            raise TypeError(f"{self.handler.__qualname__} wants unknown {missing}")
        return {p: context[p] for p in self.params}


def _params(handler: Handler) -> tuple[str, ...]:
    return tuple(inspect.signature(handler).parameters)


def _norm(text: str) -> str:
    return clean_input(text).casefold()


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[Route] = []
        self.children: list[Router] = []

    def include(self, *routers: Router) -> Router:
        self.children.extend(routers)
        return self

    def walk(self) -> Iterator[Route]:
        yield from self.routes
        for child in self.children:
            yield from child.walk()

    def add(
        self, tier: Tier, matcher: Matcher, roles: tuple[str, ...]
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(tier, matcher, handler, frozenset(roles), _params(handler)))
            return handler

        return register

    def command(self, *names: str, roles: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        wanted = {n.lower() for n in names}

        def match(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
            if event.command and event.command.lower() in wanted:
                return {"args": list(event.args)}
            return None

        return self.add(Tier.COMMAND, match, roles)

    def keyword(
        self, *words: str, exact: bool = False, roles: tuple[str, ...] = ()
    ) -> Callable[[Handler], Handler]:
        """Text equal to a word, or (unless `exact`) starting with it; the rest is `rest`."""
        folded = sorted((w.casefold() for w in words), key=len, reverse=True)

        def match(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
            if event.kind != "text":
                return None
            text = _norm(event.text)
            for word in folded:
                if text == word:
                    return {"rest": ""}
                if not exact and text.startswith(word):
                    tail = text[len(word) :]
                    # ASCII words need a separator ("subscribe news"); CJK ones do not (订阅早盘).
                    if word.isascii() and not tail[:1].isspace():
                        continue
                    return {"rest": clean_input(event.text)[len(word) :].strip()}
            return None

        return self.add(Tier.KEYWORD, match, roles)

    def callback(self, prefix: str, roles: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        """Button presses whose data is `prefix` or starts with `prefix:`; the tail is `data`."""

        def match(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
            data = event.callback_data
            if event.kind != "callback" or data is None:
                return None
            if data == prefix:
                return {"data": ""}
            if data.startswith(prefix + ":"):
                return {"data": data[len(prefix) + 1 :]}
            return None

        return self.add(Tier.CALLBACK, match, roles)

    def state(self, *states: str, roles: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        wanted = set(states)

        def match(event: Inbound, ctx: dict[str, Any]) -> dict[str, Any] | None:
            current = ctx.get("state")
            if (
                current is not None
                and current.state in wanted
                and event.kind not in ("callback", "command")
                and _norm(event.text) not in CANCEL_WORDS
            ):
                return {"state_data": dict(current.data)}
            return None

        return self.add(Tier.STATE, match, roles)

    def fallback(self, *kinds: str, roles: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        """Last resort for events of these kinds (any kind when none given)."""
        wanted = set(kinds)

        def match(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
            return {} if not wanted or event.kind in wanted else None

        return self.add(Tier.FALLBACK, match, roles)
