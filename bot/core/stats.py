"""What this process counts as it goes, for `/metrics` (`bot/ops/metrics.py` reads it at
scrape time): plain dicts and ints, so the hot path pays a dict update per event and no
lock, library call or statement. Values kept in the database (the outbox, tickets, leases)
are not here; they are read when scraped.

One `Stats` per app (the delivery engine owns it), so two apps in one process (tests) never
share counts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

# Seconds; the upper bounds of the handling-time histogram's buckets (+Inf is implied).
HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# How a FAQ reply came about (the `ref` its outbox row carries) -> the outcome counted.
FAQ_OUTCOMES = {
    "faq:answer": "answered",
    "faq:chosen": "answered",  # picked from a suggestion
    "faq:suggest": "suggested",
    "faq:unknown": "handed_off",  # not sure: a person is offered, the question is a gap
    "faq:none": "handed_off",  # none of the suggestions fit
}


class Histogram:
    """Counts per bucket (not cumulative), their sum and count."""

    __slots__ = ("bounds", "buckets", "count", "sum")

    def __init__(self, bounds: tuple[float, ...] = HANDLING_BUCKETS) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at most that), the last bound +Inf."""
        out: list[tuple[float, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), self.buckets, strict=True):
            total += n
            out.append((bound, total))
        return out


class Stats:
    __slots__ = ("faq", "handling", "holds", "sends", "updates")

    def __init__(self) -> None:
        self.updates: Counter[str] = Counter()  # inbound events recorded, by channel
        self.handling: dict[str, Histogram] = {}  # seconds to handle one event, by channel
        self.sends: Counter[tuple[str, str]] = Counter()  # (channel, outcome) per send tried
        self.holds: Counter[str] = Counter()  # 429s (flood limits) that held a channel
        self.faq: Counter[str] = Counter()  # FAQ replies by outcome (FAQ_OUTCOMES)

    def handled(self, channel: str, seconds: float) -> None:
        histogram = self.handling.get(channel)
        if histogram is None:
            histogram = self.handling[channel] = Histogram()
        histogram.observe(seconds)

    def faq_reply(self, ref: str | None) -> None:
        outcome = FAQ_OUTCOMES.get(ref) if ref else None
        if outcome is not None:
            self.faq[outcome] += 1
