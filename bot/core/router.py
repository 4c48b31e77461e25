"""A router tree in the spirit of aiogram's: handlers matched by command, keyword,
button callback or conversation state, with dependencies injected by parameter name."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from bot.core import folding
from bot.core.types import Inbound, Outbound

Handler = Callable[..., Awaitable[Any]]
# A matcher looks at the event and its context; a dict (possibly empty) means "mine",
# and its items are offered to the handler as extra parameters.
Matcher = Callable[[Inbound, dict[str, Any]], dict[str, Any] | None]


class _Unhandled:
    def __repr__(self) -> str:
        return "UNHANDLED"


# What a handler returns to decline, as in aiogram: the next matching route gets the event.
UNHANDLED: Any = _Unhandled()


class SkipHandler(Exception):  # aiogram's name, kept so it reads the same
    """Raised by a handler to decline the event: the next matching route (same or later tier)
    gets it, as if this one had not matched.

    A declining handler shares the event's transaction, so what it wrote stays: decline only
    after writes that must hold whoever answers (closing one's own expired form, say), never
    after half a change. `before` are replies that go out ahead of the next route's answer
    ("your form expired", then the answer to what was typed)."""

    def __init__(self, *before: Outbound) -> None:
        super().__init__()
        self.before = list(before)


class Tier(IntEnum):
    """Which kind of handler wins when several match: earlier tiers first."""

    CALLBACK = 0
    COMMAND = 1
    ANYTIME = 2  # keywords that interrupt a multi-step flow
    STATE = 3
    KEYWORD = 4
    FALLBACK = 5


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


def fold(text: str) -> str:
    """Comparable form of typed text (see `bot.core.folding`), trimmed."""
    return folding.fold(text).strip()


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


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
        self,
        *words: str,
        exact: bool = False,
        anytime: bool = False,
        roles: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Text that is a word (ignoring case, width, spaces and punctuation: "ＴＤ!" is "td"),
        or unless `exact` starts with it, the rest offered as `rest`. `anytime` words also
        interrupt a multi-step flow (opt-out and cancel words must always work)."""
        folded = sorted({fold(w) for w in words}, key=len, reverse=True)
        bare = {_bare(w) for w in folded}

        def match(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
            if event.kind != "text":
                return None
            text = fold(event.text)
            stripped = _bare(text)
            # "TD!" and "退 订。" are the word; a word buried in symbols is not.
            if stripped in bare and len(text) - len(stripped) <= 6:
                return {"rest": ""}
            if exact:
                return None
            for word in folded:
                if text.startswith(word):
                    tail = text[len(word) :]
                    # ASCII words need a separator ("subscribe news"); CJK ones do not (订阅早盘).
                    if word.isascii() and not tail[:1].isspace():
                        continue
                    return {"rest": tail.strip()}
            return None

        return self.add(Tier.ANYTIME if anytime else Tier.KEYWORD, match, roles)

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
