"""Platform limits as pure bookkeeping: rolling windows, per-chat spacing, group minutes,
holds. No clock but the numbers handed in."""

from __future__ import annotations

import itertools
import math

from bot.core.delivery import Limits, Pacer
from bot.core.delivery.limits import Window


def run(pacer: Pacer, chats: list[str], *, group: bool = False) -> list[float]:
    """Start one send per chat, each as early as the pacer allows; their start times."""
    now, starts = 0.0, []
    for chat in chats:
        now = max(pacer.earliest(now), pacer.earliest_for(chat, now, group=group))
        while max(pacer.earliest(now), pacer.earliest_for(chat, now, group=group)) > now:
            now = max(pacer.earliest(now), pacer.earliest_for(chat, now, group=group))
        pacer.record(chat, now, group=group)
        starts.append(now)
    return starts


def peak(starts: list[float], span: float = 1.0) -> int:
    """The most starts in any rolling window of `span` seconds."""
    best, j = 0, 0
    for i, at in enumerate(starts):
        while starts[j] <= at - span + 1e-9:  # [t, t + span): a start at t + span is outside
            j += 1
        best = max(best, i - j + 1)
    return best


def test_never_more_than_the_rate_in_any_rolling_second() -> None:
    pacer = Pacer(Limits(rate=30, margin=0.0))
    starts = run(pacer, [f"c{i}" for i in range(300)])
    assert peak(starts) == 30
    assert starts[:2] == [0.0, 0.005], "two may go together, a few ms apart"
    assert math.isclose(starts[2], 1 / 30), "then spread out"
    assert 9.0 <= starts[-1] <= 10.0, "30 per second, not more, and hardly less"


def test_the_window_counts_every_rolling_second_however_the_starts_bunch() -> None:
    window = Window(count=30, span=1.0)
    for _ in range(20):
        window.record(0.9)
    assert window.earliest(1.0) == 1.0, "room for 10 more"
    for _ in range(10):
        window.record(1.0)
    assert math.isclose(window.earliest(1.0), 1.9), "full until the first 20 are a second old"


def test_a_quiet_spell_stores_up_no_burst() -> None:
    pacer = Pacer(Limits(rate=30, margin=0.0))
    pacer.record("a", 0.0)
    starts = run(pacer, [f"c{i}" for i in range(3)])  # run() starts its clock at 0 again
    assert pacer.earliest(100.0) == 100.0
    pacer.record("b", 100.0)
    pacer.record("c", 100.0)
    assert math.isclose(pacer.earliest(100.0), 100.0 + 1 / 30), "idle time saves up two"
    assert len(starts) == 3


def test_the_margin_grows_with_the_rate() -> None:
    assert Limits(rate=30).slack == 0.025 + 0.025 * 0.03
    assert Limits(rate=1000).slack == 0.05
    assert Limits(rate=1000, margin=0.0).slack == 0.0


def test_rates_below_one_per_second_space_single_sends() -> None:
    pacer = Pacer(Limits(rate=0.5, margin=0.0))
    assert run(pacer, ["a", "b", "c"]) == [0.0, 2.0, 4.0]


def test_the_margin_widens_every_window() -> None:
    pacer = Pacer(Limits(rate=2, chat_interval=1.0, margin=0.05))
    assert run(pacer, ["a", "b", "c"]) == [0.0, 0.005, 1.05]
    assert pacer.earliest_for("c", 1.05, group=False) == 2.1, "per chat too"


def test_one_message_per_interval_to_one_chat() -> None:
    pacer = Pacer(Limits(rate=1000, chat_interval=1.0, margin=0.0))
    assert run(pacer, ["a", "a", "b", "a"]) == [0.0, 1.0, 1.0, 2.0]


def test_at_most_twenty_a_minute_to_one_group() -> None:
    pacer = Pacer(Limits(rate=1000, chat_interval=1.0, group_per_minute=20, margin=0.0))
    starts = run(pacer, ["g"] * 25, group=True)
    assert starts[:20] == [float(i) for i in range(20)]
    assert starts[20] == 60.0, "the 21st waits until the first leaves the minute"
    assert peak(starts, span=60.0) == 20


def test_a_hold_stops_every_send_until_it_is_over() -> None:
    pacer = Pacer(Limits(rate=30, margin=0.0))
    pacer.hold(20.0)
    assert pacer.held(5.0) and not pacer.held(20.0)
    assert pacer.earliest(5.0) == 20.0
    pacer.hold(10.0)  # a shorter hold never shortens a longer one
    assert pacer.earliest(0.0) == 20.0


def test_idle_chats_are_forgotten() -> None:
    pacer = Pacer(Limits(rate=1000, chat_interval=1.0, group_per_minute=20, margin=0.0))
    pacer.record("a", 0.0)
    pacer.record("g", 0.0, group=True)
    pacer.forget(120.0)
    assert pacer.earliest_for("a", 120.0, group=False) == 120.0
    assert not pacer._last and not pacer._groups


def test_unlimited_limits_never_wait() -> None:
    pacer = Pacer(Limits())
    assert Limits().unlimited
    assert run(pacer, ["a"] * 100) == [0.0] * 100


def test_a_start_that_left_late_is_counted_from_when_it_left() -> None:
    window = Window(count=2, span=1.0)
    first = window.record(0.0)
    window.record(0.0)
    window.restamp(first, 0.3)  # the event loop was busy: it really left at 0.3
    assert window.earliest(1.0) == 1.3, "a second after it really left"
    window.restamp(first, 0.1)  # never earlier than booked or already known
    assert window.earliest(1.0) == 1.3
    pacer = Pacer(Limits(rate=20, chat_interval=1.0, margin=0.0))
    ticket = pacer.record("a", 0.0)
    pacer.restamp(ticket, "a", 0.3)
    assert pacer.earliest_for("a", 1.0, group=False) == 1.3


def test_group_messages_keep_their_distance_across_groups_with_jitter() -> None:
    pacer = Pacer(Limits(rate=20, margin=0.0, group_interval=1.5, group_jitter=0.5))
    starts = run(pacer, [f"g{i % 3}" for i in range(30)], group=True)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(1.5 <= g <= 2.0 + 1e-9 for g in gaps), "1.5 s plus up to 0.5 s, any group"
    assert len({round(g, 3) for g in gaps}) > 5, "not one fixed rhythm"
    private = run(pacer, [f"p{i}" for i in range(10)])
    assert private[-1] - private[0] < 1.0, "private chats are not held by the group spacing"
