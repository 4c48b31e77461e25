"""The firm's daily rhythm: the morning and evening notes on trading days.

APScheduler decides when; each fire only records itself (job, fire time) and writes its work
in the same transaction, so a restart or a second process never sends twice. A slot missed
while the bot was down goes out late within a grace window, else is recorded as missed and
staff are told; nothing is dropped silently."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.core.i18n import Translator
from bot.core.types import Button, Outbound
from broadcasts import lifecycle
from broadcasts.lifecycle import BroadcastError
from broadcasts.trading_calendar import TradingCalendar, load_overrides
from storage.tx import Tx

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


def _tell(rhythm: Rhythm, text: str) -> list[Outbound]:
    return [Outbound(text, chat=target) for target in rhythm.staff]


async def run_slot(
    tx: Tx, t: Translator, rhythm: Rhythm, slot: str, fire: dt.datetime, *, late: bool = False
) -> list[Outbound]:
    """The slot's note becomes a broadcast to the topic's subscribers, on trading days only."""
    job, day = f"note.{slot}", fire.astimezone(rhythm.tz).date()
    name = t(f"rhythm.slot_{slot}")
    trading = rhythm.calendar().is_trading(day)
    if trading is not True:
        why = "closed" if trading is False else "unknown"
        if await tx.rhythm.claim_fire(job, fire, "skipped", why) and trading is None:
            return _tell(rhythm, t("rhythm.no_calendar", slot=name, day=day.isoformat()))
        return []
    if not await tx.rhythm.claim_fire(job, fire, "late" if late else "done"):
        return []  # fired already: another process, or before a restart
    note = await tx.rhythm.note(slot, day)
    if note is None:
        await tx.rhythm.set_outcome(job, fire, "missing", None)
        return _tell(rhythm, t("rhythm.missing", slot=name, day=day.isoformat()))
    try:
        plan = await lifecycle.plan(tx, t, author=note.author, text=note.text, topics=[slot])
    except BroadcastError as exc:
        await tx.rhythm.set_outcome(job, fire, "refused", str(exc))
        return _tell(rhythm, t("rhythm.refused", slot=name, why=str(exc)))
    created = await lifecycle.create(tx, plan, author=note.author, send_at=tx.now())
    await tx.rhythm.mark_sent(slot, day, created.id)
    return _tell(rhythm, t("rhythm.sent", slot=name, id=created.id, n=created.recipients))


async def remind(
    tx: Tx, t: Translator, rhythm: Rhythm, slot: str, fire: dt.datetime
) -> list[Outbound]:
    """Some minutes before a trading-day slot that has no note, staff are reminded once."""
    slot_at = fire + dt.timedelta(minutes=rhythm.remind_minutes)
    day = slot_at.astimezone(rhythm.tz).date()
    if rhythm.calendar().is_trading(day) is not True:
        return []
    if not await tx.rhythm.claim_fire(f"remind.{slot}", fire, "done"):
        return []
    if await tx.rhythm.note(slot, day) is not None:
        return []
    name = t(f"rhythm.slot_{slot}")
    return _tell(rhythm, t("rhythm.remind", slot=name, minutes=rhythm.remind_minutes, key=slot))


async def catch_up(tx: Tx, t: Translator, rhythm: Rhythm, now: dt.datetime) -> list[Outbound]:
    """At start: the slots that passed while the bot was down (a bot that never ran a slot
    before has missed nothing)."""
    outs: list[Outbound] = []
    for slot in SLOTS:
        fire = rhythm.last_fire(slot, now)
        if await tx.rhythm.fired(f"note.{slot}", fire) is not None:
            continue
        if not await tx.rhythm.ran_before(f"note.{slot}", fire):
            continue
        if now - fire <= dt.timedelta(minutes=rhythm.grace_minutes):
            outs += await run_slot(tx, t, rhythm, slot, fire, late=True)
        elif await tx.rhythm.claim_fire(f"note.{slot}", fire, "missed"):
            day = fire.astimezone(rhythm.tz).date()
            if rhythm.calendar().is_trading(day):
                name = t(f"rhythm.slot_{slot}")
                outs += _tell(rhythm, t("rhythm.missed", slot=name, at=f"{fire:%Y-%m-%d %H:%M}"))
    return outs


ASK_AGAIN_AFTER = dt.timedelta(days=2)


def survey(t: Translator, wave: int, *, again: bool) -> Outbound:
    """The seed's return-visit wording, with 1-5 buttons."""
    stars = [Button(f"{n}⭐", f"rv:{wave}:{n}") for n in range(1, 6)]
    return Outbound(t("visits.again" if again else "visits.ask"), buttons=[stars])


async def return_visits(tx: Tx, t: Translator, rhythm: Rhythm, fire: dt.datetime) -> list[Outbound]:
    """Once a day: clients `visit_days` after their first contact are asked; those who did not
    answer are asked once more two days later, and never again."""
    if not await tx.rhythm.claim_fire("visits", fire, "done"):
        return []
    outs: list[Outbound] = []
    for wave in rhythm.visit_days:
        due = await tx.return_visits.due(wave, fire, exclude=rhythm.admins)
        for _client, address, language in due:
            outs.append(_to(survey(t.with_lang(language), wave, again=False), address))
        for _client, address, language in await tx.return_visits.ask_again(
            wave, fire, ASK_AGAIN_AFTER
        ):
            outs.append(_to(survey(t.with_lang(language), wave, again=True), address))
    return outs


def _to(out: Outbound, chat: str) -> Outbound:
    out.chat = chat
    return out


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
    return _tell(rhythm, t("rhythm.calendar_unknown", year=year, overrides=covered))
