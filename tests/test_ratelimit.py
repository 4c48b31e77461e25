"""The token bucket, driven by a fake clock (no real waiting)."""

from __future__ import annotations

from bot.core.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_burst_then_steady_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep)
    for _ in range(90):
        await limiter.acquire()
    # 30 go at once, the next 60 take two seconds at 30/s.
    assert abs(clock.now - 2.0) < 1e-6


async def test_idle_time_refills_only_up_to_capacity() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=2, clock=clock, sleep=clock.sleep)
    clock.now = 100.0
    for _ in range(3):
        await limiter.acquire()
    assert abs(clock.now - 101.0) < 1e-6


async def test_pause_holds_every_sender_until_it_is_over() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep)
    limiter.pause(20)
    await limiter.acquire()
    assert clock.now >= 20
