"""Non-farm payroll release dates: BLS's rule, its holiday and New Year moves, the published
exceptions, and Beijing time from the real time zones."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.cli import main
from broadcasts.nfp import by_rule, federal_holidays, release, releases_in

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

D = dt.date

# Published by BLS (schedule of releases for the Employment Situation; 2025-2026 revisions).
PUBLISHED = {
    (2021, 10): D(2021, 11, 5), (2021, 11): D(2021, 12, 3), (2021, 12): D(2022, 1, 7),
    (2022, 1): D(2022, 2, 4), (2022, 2): D(2022, 3, 4), (2022, 3): D(2022, 4, 1),
    (2022, 4): D(2022, 5, 6), (2022, 5): D(2022, 6, 3), (2022, 6): D(2022, 7, 8),
    (2022, 7): D(2022, 8, 5), (2022, 8): D(2022, 9, 2), (2022, 9): D(2022, 10, 7),
    (2022, 10): D(2022, 11, 4), (2022, 11): D(2022, 12, 2),
    (2023, 12): D(2024, 1, 5), (2024, 10): D(2024, 11, 1), (2024, 12): D(2025, 1, 10),
    (2025, 1): D(2025, 2, 7), (2025, 6): D(2025, 7, 3), (2025, 9): D(2025, 11, 20),
    (2025, 11): D(2025, 12, 16), (2025, 12): D(2026, 1, 9), (2026, 1): D(2026, 2, 11),
}  # fmt: skip


@pytest.mark.parametrize(("month", "published"), PUBLISHED.items())
def test_published_dates(month: tuple[int, int], published: dt.date) -> None:
    assert release(*month).date == published


def test_the_rule_moves_a_holiday_friday_earlier_and_new_year_later() -> None:
    assert D(2025, 7, 4) in federal_holidays(2025)
    assert by_rule(2025, 6) == D(2025, 7, 3)  # 4 July on the Friday
    assert by_rule(2026, 6) == D(2026, 7, 2)  # 4 July on a Saturday: observed on the 3rd
    assert by_rule(2026, 12) == D(2027, 1, 8)  # would be New Year's Day


def test_beijing_time_follows_new_york_daylight_time() -> None:
    assert release(2026, 2).beijing_time == "2026-03-06T21:30+08:00"  # DST starts 8 March
    assert release(2026, 3).beijing_time == "2026-04-03T20:30+08:00"
    assert release(2026, 10).beijing_time == "2026-11-06T21:30+08:00"  # DST ended 1 November


def test_a_year_lists_each_release_date_once(capsys: pytest.CaptureFixture[str]) -> None:
    dates = [r.date for r in releases_in(2025)]
    assert dates == sorted(set(dates)) and D(2025, 12, 16) in dates and len(dates) == 11
    assert main(["calendar", "nfp", "--year", "2026", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"date": "2026-01-09", "beijing_time": "2026-01-09T21:30+08:00"}
    assert len(rows) == 12
