"""Each channel's health, in memory: up, or down since a moment with the last error.

Fed from two sides: the delivery engine (a send that failed for a transient reason, or any
answer from the platform) and the channel itself (polling or webhook registration failing,
an access token refused, a socket gone). Each side is a `source`; a channel is down while
any source is, since the first of them went down. Reporting is a few dict operations, so
the send path can report every outcome; only a change wakes whoever watches (`changed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

SEND = "send"  # the delivery engine's source
MAX_ERROR = 300


@dataclass(slots=True)
class Fault:
    error: str
    quiet: bool  # staff hear of it from the channel itself (not a second time from here)


@dataclass(frozen=True, slots=True)
class Told:
    """An outage staff were told of: when it began and the error they heard."""

    since: datetime
    error: str


@dataclass(slots=True)
class ChannelHealth:
    channel: str
    faults: dict[str, Fault] = field(default_factory=dict)  # by source: failing now
    since: datetime | None = None  # down since (None: up)
    error: str = ""  # the last error heard
    up_at: datetime | None = None  # when the last outage ended
    told: Told | None = None  # the outage staff were told of and not yet of its end

    @property
    def down(self) -> bool:
        return self.since is not None

    @property
    def loud(self) -> bool:
        """Down for a reason staff have not heard of from the channel itself."""
        return any(not f.quiet for f in self.faults.values())


class Health:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock  # wall clock: "since" is shown to staff
        self._routes: dict[str, str] = {}  # route -> channel (QQ's groups are QQ's)
        self._channels: dict[str, ChannelHealth] = {}
        self.changed = asyncio.Event()

    # ---- what there is ------------------------------------------------------------------------

    def track(self, channel: str, routes: tuple[str, ...] = ()) -> None:
        """A configured channel (listed even while nothing was heard) and its other routes."""
        self._get(channel)
        for route in routes:
            if route != channel:
                self._routes[route] = channel

    def channel_of(self, route: str) -> str:
        """The channel a route or an address (``qqgroup:123``) belongs to."""
        route = route.split(":", 1)[0]
        return self._routes.get(route, route)

    def routes_of(self, channel: str) -> list[str]:
        return [channel, *(r for r, c in self._routes.items() if c == channel)]

    def channels(self) -> Iterator[ChannelHealth]:
        return iter(sorted(self._channels.values(), key=lambda c: c.channel))

    def get(self, channel: str) -> ChannelHealth:
        return self._get(self.channel_of(channel))

    # ---- reports ------------------------------------------------------------------------------

    def down(
        self, route: str, reason: str, *, source: str = "channel", quiet: bool = False
    ) -> None:
        """`source` of the channel fails (`quiet`: the channel tells staff itself)."""
        health = self._get(self.channel_of(route))
        health.error = reason[:MAX_ERROR]
        fault = health.faults.get(source)
        if fault is not None:
            fault.error = health.error
            return
        health.faults[source] = Fault(health.error, quiet)
        if health.since is None:
            health.since = self.clock()
        self.changed.set()

    def up(self, route: str, *, source: str = "channel") -> None:
        """`source` works again; the channel is up once none fails."""
        health = self._channels.get(self._routes.get(route, route))
        if health is None:
            return
        # Nothing of `source` failing: no news, unless the outage was only known from the
        # record (an earlier process told staff of it), which any success ends.
        if health.faults.pop(source, None) is None and (health.faults or health.since is None):
            return
        if not health.faults:
            health.since = None
            health.up_at = self.clock()
        self.changed.set()

    def failed(self, route: str, error: str) -> None:
        """A send failed for a transient reason (outage, 5xx, no connection, no answer)."""
        self.down(route, error, source=SEND)

    def answered(self, route: str) -> None:
        """A send went through: the platform takes calls again."""
        self.up(route, source=SEND)

    def restore(self, channel: str, told: Told) -> None:
        """An outage staff were told of by an earlier process: down until something works."""
        health = self._get(channel)
        health.told = told
        if health.since is None:
            health.since, health.error = told.since, told.error

    def _get(self, channel: str) -> ChannelHealth:
        health = self._channels.get(channel)
        if health is None:
            health = self._channels[channel] = ChannelHealth(channel)
        return health
