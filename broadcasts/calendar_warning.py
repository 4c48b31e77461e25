"""Staff are warned while next year's holidays are unknown, so that notes and trading-hour
rules do not run on a guessed calendar."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Translator
from bot.core.types import Outbound
from broadcasts.rhythm import Rhythm
from storage.tx import Tx


async def calendar_check(tx: Tx, t: Translator, rhythm: Rhythm, now: dt.datetime) -> list[Outbound]:
    """From December, staff hear once a week while next year's holidays are unknown (the
    package has not published them and the override file does not cover the year)."""
    local = now.astimezone(rhythm.tz)
    if local.month != 12:
        return []
    year = local.year + 1
    calendar = rhythm.calendar()
    if calendar.has_data(year):
        return []
    covered = sum(1 for day in calendar.overrides if day.year == year)
    week = local.isocalendar()
    key = dt.datetime.combine(
        dt.date.fromisocalendar(week[0], week[1], 1), dt.time(), tzinfo=rhythm.tz
    )
    if not await tx.rhythm.claim_fire("calendar.warn", key, "done"):
        return []
    return rhythm.to_staff(t("rhythm.calendar_unknown", year=year, overrides=covered))
