"""US Employment Situation ("non-farm payrolls", 非农) release dates and their Beijing time.

BLS's rule: the release is the third Friday after the reference week (the Sunday-to-Saturday
week that contains the 12th of the reference month), at 08:30 Eastern Time, moved to the
business day before when that Friday is a US federal holiday, and a week later when it would
fall on 1-3 January. Dates BLS published that differ
from the rule are in `nfp_overrides.yaml` (its header says where they come from and how to add
one). Beijing time comes from the real time zones: 20:30 while New York is on daylight time,
21:30 otherwise."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

NEW_YORK = ZoneInfo("America/New_York")
BEIJING = ZoneInfo("Asia/Shanghai")
RELEASE_AT = dt.time(8, 30)
OVERRIDES = Path(__file__).with_name("nfp_overrides.yaml")


@dataclass(frozen=True, slots=True)
class Release:
    reference: str  # "2026-03": the month the figures are for
    date: dt.date  # in New York
    beijing: dt.datetime

    @property
    def beijing_time(self) -> str:
        return self.beijing.isoformat(timespec="minutes")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    return (
        day - dt.timedelta(days=1)
        if day.weekday() == 5
        else day + dt.timedelta(days=1)
        if day.weekday() == 6
        else day
    )


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> frozenset[dt.date]:
    """US federal holidays as observed (5 U.S.C. 6103), with next year's New Year's Day when
    it is observed on this year's 31 December."""
    mon, thu = 0, 3
    days = {
        _observed(dt.date(year, 1, 1)),
        _nth_weekday(year, 1, mon, 3),
        _nth_weekday(year, 2, mon, 3),
        _last_weekday(year, 5, mon),
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, mon, 1),
        _nth_weekday(year, 10, mon, 2),
        _observed(dt.date(year, 11, 11)),
        _nth_weekday(year, 11, thu, 4),
        _observed(dt.date(year, 12, 25)),
        _observed(dt.date(year + 1, 1, 1)),
    }
    if year >= 2021:
        days.add(_observed(dt.date(year, 6, 19)))
    return frozenset(days)


def by_rule(year: int, month: int) -> dt.date:
    """The release date BLS's rule gives for reference month `year-month`."""
    twelfth = dt.date(year, month, 12)
    saturday = twelfth + dt.timedelta(days=(5 - twelfth.weekday()) % 7)  # end of the week
    release = saturday + dt.timedelta(days=6 + 14)  # the third Friday after it
    if release.month == 1 and release.day <= 3:  # BLS keeps the year's first release a week
        release += dt.timedelta(days=7)  # clear of New Year (Jan 10 2025, Jan 9 2026)
    while release in federal_holidays(release.year) or release.weekday() >= 5:
        release -= dt.timedelta(days=1)
    return release


@lru_cache(maxsize=1)
def _published() -> dict[str, dt.date]:
    data = yaml.safe_load(OVERRIDES.read_text("utf-8")) or {}
    return {
        str(k): v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))
        for k, v in data.items()
    }


def release(year: int, month: int) -> Release:
    reference = f"{year:04d}-{month:02d}"
    date = _published().get(reference) or by_rule(year, month)
    at = dt.datetime.combine(date, RELEASE_AT, tzinfo=NEW_YORK).astimezone(BEIJING)
    return Release(reference, date, at)


def releases_in(year: int) -> list[Release]:
    """Every release that happens in `year` (in New York), in date order, once per date."""
    found: dict[dt.date, Release] = {}
    for y, m in [(year - 1, 11), (year - 1, 12), *((year, m) for m in range(1, 13))]:
        r = release(y, m)
        if r.date.year == year and r.date not in found:
            found[r.date] = r
    return [found[d] for d in sorted(found)]
