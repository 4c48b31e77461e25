"""Trading days: weekdays that are not mainland public holidays. A make-up working weekend day
(调休) is a working day for staff but not a trading day. Holidays come from the maintained
`chinesecalendar` package; an override file the firm edits has the last word, and decides
alone for a year the package has no data for (nothing is guessed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import chinese_calendar
import yaml

STATES = ("trading", "closed")
HEADER = (
    "# Trading-day overrides: one `YYYY-MM-DD: trading` or `YYYY-MM-DD: closed` per line.\n"
    "# Edit by hand or with `python -m bot calendar override add|del DATE trading|closed`.\n"
)


class CalendarError(ValueError):
    """The override file or a value given for it is not usable (in the reader's words)."""


@dataclass(frozen=True, slots=True)
class Day:
    date: dt.date
    trading: bool | None  # None: nobody knows yet (no holiday data, no override)
    reason: str  # weekday | weekend | holiday:<name> | makeup:<name> | override | no data


def load_overrides(path: Path) -> dict[dt.date, str]:
    """The override file (missing: none); a bad line is a CalendarError naming it."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise CalendarError(f"{path}: expected lines like `2027-01-01: closed`")
    overrides: dict[dt.date, str] = {}
    for key, value in data.items():
        day = key if isinstance(key, dt.date) else _parse_date(str(key), path)
        if value not in STATES:
            raise CalendarError(f"{path}: {day}: {value!r} is not trading or closed")
        overrides[day] = value
    return overrides


def _parse_date(text: str, path: Path | None = None) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        where = f"{path}: " if path else ""
        raise CalendarError(f"{where}{text!r} is not a date like 2027-01-01") from None


def save_override(path: Path, day: str, state: str | None) -> dict[dt.date, str]:
    """Add (state) or remove (None) one override; the file is rewritten in date order."""
    date = _parse_date(day)
    if state is not None and state not in STATES:
        raise CalendarError(f"{state!r} is not trading or closed")
    overrides = load_overrides(path)
    if state is None:
        if overrides.pop(date, None) is None:
            raise CalendarError(f"{date} has no override")
    else:
        overrides[date] = state
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{d.isoformat()}: {s}\n" for d, s in sorted(overrides.items()))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(HEADER + lines, "utf-8")
    tmp.replace(path)  # never half written
    return overrides


class TradingCalendar:
    def __init__(self, overrides: dict[dt.date, str] | None = None) -> None:
        self.overrides = overrides or {}

    def day(self, date: dt.date) -> Day:
        override = self.overrides.get(date)
        if override is not None:
            return Day(date, override == "trading", "override")
        weekend = date.weekday() >= 5
        try:
            holiday, name = chinese_calendar.get_holiday_detail(date)
        except NotImplementedError:
            return Day(date, False if weekend else None, "weekend" if weekend else "no data")
        if weekend:
            # A weekend day the package calls a working day (调休) is still no trading day.
            return Day(date, False, f"makeup:{name}" if not holiday and name else "weekend")
        if holiday:
            return Day(date, False, f"holiday:{name}")
        return Day(date, True, "weekday")

    def is_trading(self, date: dt.date) -> bool | None:
        return self.day(date).trading

    def year(self, year: int) -> list[Day]:
        day, out = dt.date(year, 1, 1), []
        while day.year == year:
            out.append(self.day(day))
            day += dt.timedelta(days=1)
        return out

    def has_data(self, year: int) -> bool:
        """Whether the holiday package covers `year` (else only the overrides decide)."""
        try:
            chinese_calendar.get_holiday_detail(dt.date(year, 6, 1))
        except NotImplementedError:
            return False
        return True
