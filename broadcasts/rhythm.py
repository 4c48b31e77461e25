"""The firm's daily rhythm as settings turn it into times: the note slots, the trading
sessions and calendar, the return-visit waves, and the staff who hear of what happens.

What runs on it lives beside it: `notes` (the slots' notes, their reminders, catching up),
`return_visits`, `calendar_warning`, `training`, `monthly`; `jobs` says what fires when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.core.types import Outbound
from broadcasts.trading_calendar import TradingCalendar, load_overrides

SLOTS = ("morning", "evening")  # each slot's topic has the same key


@dataclass(frozen=True, slots=True)
class Rhythm:
    times: dict[str, dt.time]
    remind_minutes: int
    grace_minutes: int
    timezone: str
    overrides: Path
    staff: tuple[str, ...]  # who hears of reminders, missing notes and missed slots
    visit_days: tuple[int, ...] = (3, 30)
    admins: tuple[str, ...] = ()  # never surveyed, like anyone holding a role
    sessions: tuple[tuple[dt.time, dt.time], ...] = ()
    alert_dedupe_minutes: int = 10
    visit_at: dt.time = dt.time(10, 0)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_staff(self, text: str) -> list[Outbound]:
        return [Outbound(text, chat=target) for target in self.staff]

    def calendar(self) -> TradingCalendar:
        """Read afresh each time: an override added while running counts at once."""
        return TradingCalendar(load_overrides(self.overrides))

    def at(self, slot: str, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.times[slot], tzinfo=self.tz)

    def last_fire(self, slot: str, now: dt.datetime) -> dt.datetime:
        """The slot's most recent time at or before `now`."""
        today = now.astimezone(self.tz).date()
        fire = self.at(slot, today)
        return fire if fire <= now else self.at(slot, today - dt.timedelta(days=1))

    def in_session(self, now: dt.datetime) -> bool:
        """Whether markets are open: a session on a trading day, a night session running
        past midnight belonging to the trading day it started on."""
        local = now.astimezone(self.tz)
        day, clock = local.date(), local.time()
        calendar = self.calendar()
        for start, end in self.sessions:
            if start < end:
                if start <= clock < end and calendar.is_trading(day):
                    return True
            elif clock >= start and calendar.is_trading(day):
                return True
            elif clock < end and calendar.is_trading(day - dt.timedelta(days=1)):
                return True
        return False

    def upcoming(
        self, now: dt.datetime, days: int = 7
    ) -> list[tuple[str, dt.datetime, bool | None]]:
        """(slot, time, trading?) of the next fires, for staff's /schedule."""
        calendar, out = self.calendar(), []
        today = now.astimezone(self.tz).date()
        for offset in range(days):
            day = today + dt.timedelta(days=offset)
            for slot in SLOTS:
                at = self.at(slot, day)
                if at > now:
                    out.append((slot, at, calendar.is_trading(day)))
        return out
