"""A platform's sending limits, kept exactly: pure bookkeeping over a monotonic clock.

- at most `rate` messages in any rolling second over all chats (below 1/s: one per 1/rate s);
- at most one message per `chat_interval` seconds to one chat;
- at most `group_per_minute` messages in any rolling minute to one group;
- at least `group_interval` (plus a random `group_jitter`) between two messages to any
  groups at all (QQ accounts that post to groups in bursts are banned);
- nothing at all while the platform holds us back (a 429's retry_after).

Each is a log of recent start times, not a token bucket: a bucket that refills during a quiet
spell lets a burst through that a rolling window counts. `margin` widens every window a
little, so jitter between our clock and the platform's arrival times cannot add a message;
the busier the line, the more requests a pause on either side bunches up, so it grows with
the rate (25 ms at 30/s, 50 ms at 1000/s: measured bunching at the fake reached 35 ms).
Sends are also spread out (a small bucket: a twentieth of a second's worth at most goes
together) rather than let out a second's worth at once, so a 429 meets as few sends already
on their way as possible.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    rate: float = math.inf  # messages per second over all chats
    chat_interval: float = 0.0  # seconds between two messages to one chat
    group_per_minute: int = 0  # messages per rolling minute to one group (0: no limit)
    group_interval: float = 0.0  # seconds between two group messages, whatever the groups
    group_jitter: float = 0.0  # up to this much more, at random, each time
    margin: float | None = None  # seconds added to every window; None: from the rate

    @property
    def slack(self) -> float:
        if self.margin is not None:
            return self.margin
        return 0.025 + 0.025 * min(1.0, self.rate / 1000) if not math.isinf(self.rate) else 0.0

    @property
    def unlimited(self) -> bool:
        return (
            math.isinf(self.rate)
            and not self.chat_interval
            and not self.group_per_minute
            and not self.group_interval
        )


class Window:
    """At most `count` starts in any `span` seconds: the last `count` start times."""

    __slots__ = ("count", "recorded", "span", "times")

    def __init__(self, count: int, span: float) -> None:
        self.count = count
        self.span = span
        self.times: deque[float] = deque(maxlen=count)
        self.recorded = 0  # starts ever booked: the sequence number of the next one

    @classmethod
    def per_second(cls, rate: float, margin: float) -> Window:
        if rate >= 1:
            return cls(math.floor(rate), 1.0 + margin)
        return cls(1, 1.0 / rate + margin)

    def earliest(self, now: float) -> float:
        if len(self.times) < self.count:
            return now
        return max(now, self.times[0] + self.span)

    def record(self, at: float) -> int:
        self.times.append(at)
        self.recorded += 1
        return self.recorded - 1

    def restamp(self, ticket: int, at: float) -> None:
        """A booked start happened later than booked (the event loop was busy): count it
        from when it really left, so the next ones keep their distance from it."""
        position = ticket - (self.recorded - len(self.times))
        if 0 <= position < len(self.times) and at > self.times[position]:
            self.times[position] = at


class Pacer:
    """All of one channel's limits. `earliest*` say when a send may start; `record` books it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._all = (
            None if math.isinf(limits.rate) else Window.per_second(limits.rate, limits.slack)
        )
        margin = limits.slack if not math.isinf(limits.rate) else (limits.margin or 0.025)
        self._chat_span = limits.chat_interval + (margin if limits.chat_interval else 0.0)
        self._group_span = 60.0 + margin
        self._last: dict[str, float] = {}  # chat -> last start
        self._groups: dict[str, Window] = {}
        self.hold_until = 0.0
        self.next_group = 0.0  # no group message before this (group_interval + jitter)
        # A twentieth of a second's worth (at least 2) may go together: enough to absorb the
        # event loop's wake-up jitter, too few to bunch up in front of a 429.
        self._burst = 0.0 if math.isinf(limits.rate) else max(2.0, math.ceil(limits.rate / 20))
        self._tokens = self._burst
        self._filled = -math.inf  # when the bucket was last topped up (the last start)
        # (Only where sends are far apart anyway: at hundreds a second many are in flight.)
        self._gap = 0.005 if limits.rate <= 100 else 0.0

    def hold(self, until: float) -> None:
        """The platform said "too many requests": no call at all before `until`."""
        self.hold_until = max(self.hold_until, until)

    def held(self, now: float) -> bool:
        return now < self.hold_until

    def earliest(self, now: float) -> float:
        """When the next send to any chat may start (the overall window and any hold)."""
        at = max(now, self.hold_until)
        if self._all is None:
            return at
        tokens = self._level(at)
        if tokens < 1:
            at += (1 - tokens) / self.limits.rate
        # Even sends that may go together leave a few ms apart: a 429 for the first is back
        # before the second leaves, so the second never lands inside the hold.
        at = max(at, self._filled + self._gap)
        return self._all.earliest(at)

    def _level(self, now: float) -> float:
        if self._filled == -math.inf:
            return self._burst
        return min(self._burst, self._tokens + (now - self._filled) * self.limits.rate)

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
        if group:
            at = max(at, self.next_group)
        return at

    def record(self, chat: str | None, at: float, *, group: bool = False) -> int:
        """Book a start; the ticket lets `restamp` move it to when it really happened."""
        ticket = -1
        if self._all is not None:
            self._tokens, self._filled = self._level(at) - 1, at
            ticket = self._all.record(at)
        if chat is None:
            return ticket
        if self._chat_span:
            self._last[chat] = at
        if group and self.limits.group_interval:
            gap = self.limits.group_interval + random.uniform(0, self.limits.group_jitter)
            self.next_group = at + gap
        if group and self.limits.group_per_minute:
            window = self._groups.get(chat)
            if window is None:
                window = self._groups[chat] = Window(self.limits.group_per_minute, self._group_span)
            window.record(at)
        return ticket

    def restamp(self, ticket: int, chat: str | None, at: float) -> None:
        if self._all is not None:
            self._all.restamp(ticket, at)
        if chat is not None and self._chat_span and self._last.get(chat, at) < at:
            self._last[chat] = at

    def forget(self, now: float) -> None:
        """Drop chats whose limits no longer constrain anything (memory stays flat)."""
        horizon = now - self._chat_span
        self._last = {c: t for c, t in self._last.items() if t > horizon}
        self._groups = {
            c: w for c, w in self._groups.items() if w.times and w.times[-1] > now - w.span
        }
