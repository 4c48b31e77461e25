"""Quiet hours: a window across midnight or within a day, and when a text may go."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from storage.records import Hours, SmsPolicy

BEIJING = ZoneInfo("Asia/Shanghai")
NIGHT = Hours(time(21), time(8))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=BEIJING)


def test_a_window_across_midnight() -> None:
    assert NIGHT.wait(at(20, 59)) == 0
    assert NIGHT.wait(at(21)) == 11 * 3600
    assert NIGHT.wait(at(23, 30)) == 8.5 * 3600
    assert NIGHT.wait(at(7, 59)) == 60
    assert NIGHT.wait(at(8)) == 0


def test_a_window_within_the_day() -> None:
    lunch = Hours(time(12), time(13, 30))
    assert lunch.wait(at(11, 59)) == 0
    assert lunch.wait(at(12, 30)) == 3600
    assert lunch.wait(at(13, 30)) == 0


def test_marketing_waits_and_alerts_do_not_unless_told() -> None:
    policy = SmsPolicy(quiet={"marketing": NIGHT})
    late = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Beijing
    assert policy.not_before("marketing", late) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert policy.not_before("alert", late) is None
    assert policy.not_before("marketing", datetime(2026, 12, 1, 4, 0, tzinfo=UTC)) is None
