"""A platform's sending limits, kept exactly: pure bookkeeping over a monotonic clock.

- at most `rate` messages in any rolling second over all chats (below 1/s: one per 1/rate s);
- at most one message per `chat_interval` seconds to one chat;
- at most `group_per_minute` messages in any rolling minute to one group;
- nothing at all while the platform holds us back (a 429's retry_after).

Each is a log of recent start times, not a token bucket: a bucket that refills during a quiet
spell lets a burst through that a rolling window counts. `margin` widens every window a
little, so jitter between our clock and the platform's arrival times cannot add a message.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    rate: float = math.inf  # messages per second over all chats
    chat_interval: float = 0.0  # seconds between two messages to one chat
    group_per_minute: int = 0  # messages per rolling minute to one group (0: no limit)
    margin: float = 0.025  # seconds added to every window

    @property
    def unlimited(self) -> bool:
        return math.isinf(self.rate) and not self.chat_interval and not self.group_per_minute


class Window:
    """At most `count` starts in any `span` seconds."""

    __slots__ = ("count", "span", "times")

    def __init__(self, count: int, span: float) -> None:
        self.count = count
        self.span = span
        self.times: deque[float] = deque(maxlen=count)

    @classmethod
    def per_second(cls, rate: float, margin: float) -> Window:
        if rate >= 1:
            return cls(math.floor(rate), 1.0 + margin)
        return cls(1, 1.0 / rate + margin)

    def earliest(self, now: float) -> float:
        if len(self.times) < self.count:
            return now
        return max(now, self.times[0] + self.span)

    def record(self, at: float) -> None:
        self.times.append(at)


class Pacer:
    """All of one channel's limits. `earliest*` say when a send may start; `record` books it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._all = (
            None if math.isinf(limits.rate) else Window.per_second(limits.rate, limits.margin)
        )
        self._chat_span = limits.chat_interval + (limits.margin if limits.chat_interval else 0.0)
        self._last: dict[str, float] = {}  # chat -> last start
        self._groups: dict[str, Window] = {}
        self.hold_until = 0.0

    def hold(self, until: float) -> None:
        """The platform said "too many requests": no call at all before `until`."""
        self.hold_until = max(self.hold_until, until)

    def held(self, now: float) -> bool:
        return now < self.hold_until

    def earliest(self, now: float) -> float:
        """When the next send to any chat may start (the overall window and any hold)."""
        at = max(now, self.hold_until)
        return self._all.earliest(at) if self._all is not None else at

    def earliest_for(self, chat: str, now: float, *, group: bool) -> float:
        """When the next send to `chat` may start, as far as that chat's own limits go."""
        at = now
        last = self._last.get(chat)
        if last is not None and self._chat_span:
            at = max(at, last + self._chat_span)
        if group and self.limits.group_per_minute:
            window = self._groups.get(chat)
            if window is not None:
                at = max(at, window.earliest(at))
        return at

    def record(self, chat: str | None, at: float, *, group: bool = False) -> None:
        if self._all is not None:
            self._all.record(at)
        if chat is None:
            return
        if self._chat_span:
            self._last[chat] = at
        if group and self.limits.group_per_minute:
            window = self._groups.get(chat)
            if window is None:
                window = self._groups[chat] = Window(
                    self.limits.group_per_minute, 60.0 + self.limits.margin
                )
            window.record(at)

    def forget(self, now: float) -> None:
        """Drop chats whose limits no longer constrain anything (memory stays flat)."""
        horizon = now - self._chat_span
        self._last = {c: t for c, t in self._last.items() if t > horizon}
        self._groups = {
            c: w for c, w in self._groups.items() if w.times and w.times[-1] > now - w.span
        }
