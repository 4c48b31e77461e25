"""What fires when: every scheduled job in one table, as data.

A job is a kind, a slot ("-" for a kind that fires once a day or month), cron fields (in the
rhythm's timezone) and the function that runs one fire. The application turns the table into
APScheduler jobs (the scheduler only decides *when*; it stays out of this package); a fire
writes its work in the caller's transaction and returns the notices to queue; a `batched` job
(the retention purge) gets the database instead and runs its own short transactions. Each job
records itself per (job, fire time), so a restart or a second process never does one twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.core.i18n import Translator
from broadcasts import calendar_warning, monthly, notes, retention, return_visits, training
from broadcasts.retention import RetentionPolicy
from broadcasts.rhythm import SLOTS, Rhythm
from broadcasts.training import TrainingPolicy
from storage.database import Database
from storage.tx import Tx

TRAINING_AT = dt.time(9, 30)
CALENDAR_AT = dt.time(9, 0)

Run = Callable[[Tx, dt.datetime], Awaitable[list[Any]]]  # (transaction, now) → notices


@dataclass(frozen=True, slots=True)
class Context:
    """What the jobs need from the application."""

    t: Translator
    rhythm: Rhythm
    training: TrainingPolicy
    report_at: dt.time
    report_recipients: frozenset[str]
    firm_name: str
    onboarding_due: dict[str, int] = field(default_factory=dict)
    report_emails: tuple[str, ...] = ()  # the report by e-mail too (a mail outbox row)
    retention: RetentionPolicy | None = None  # None: nothing is ever purged
    retention_at: dt.time = dt.time(3, 30)


@dataclass(frozen=True, slots=True)
class Job:
    kind: str
    slot: str
    cron: dict[str, int]  # CronTrigger fields: day, hour, minute
    run: Any  # Run; for a batched job (database, now) → None
    batched: bool = False

    @property
    def id(self) -> str:
        return job_id(self.kind, self.slot)


def job_id(kind: str, slot: str) -> str:
    return kind if slot == "-" else f"{kind}.{slot}"


def table(c: Context) -> tuple[Job, ...]:
    """Every scheduled job: each slot's note and its reminder, then the daily and monthly ones."""
    r = c.rhythm
    per_slot = [
        job
        for slot in SLOTS
        for job in (
            Job("note", slot, _at(r.times[slot]), partial(_note, c, slot)),
            Job("remind", slot, _at(_before(r.times[slot], r.remind_minutes)),
                partial(_remind, c, slot)),
        )
    ]  # fmt: skip
    purge = (
        (Job("retention", "-", _at(c.retention_at), partial(_retention, c), batched=True),)
        if c.retention is not None
        else ()
    )
    return (
        *per_slot,
        Job("monthly", "-", {"day": 1, **_at(c.report_at)}, partial(_monthly, c)),
        Job("training", "-", _at(TRAINING_AT), partial(_training, c)),
        Job("calendar", "-", _at(CALENDAR_AT), partial(_calendar, c)),
        Job("visits", "-", _at(r.visit_at), partial(_visits, c)),
        *purge,
    )


def _at(moment: dt.time) -> dict[str, int]:
    return {"hour": moment.hour, "minute": moment.minute}


def _before(moment: dt.time, minutes: int) -> dt.time:
    day = dt.datetime.combine(dt.date(2000, 1, 1), moment)
    return (day - dt.timedelta(minutes=minutes)).time()


async def _note(c: Context, slot: str, tx: Tx, now: dt.datetime) -> list[Any]:
    fire = c.rhythm.last_fire(slot, now)
    late = now - fire > dt.timedelta(minutes=1)
    return await notes.run_slot(tx, c.t, c.rhythm, slot, fire, late=late)


async def _remind(c: Context, slot: str, tx: Tx, now: dt.datetime) -> list[Any]:
    lead = dt.timedelta(minutes=c.rhythm.remind_minutes)
    fire = c.rhythm.last_fire(slot, now + lead) - lead
    return await notes.remind(tx, c.t, c.rhythm, slot, fire)


async def _monthly(c: Context, tx: Tx, now: dt.datetime) -> list[Any]:
    """Last month's report, on the 1st."""
    tz = c.rhythm.tz
    local = now.astimezone(tz)
    end = dt.datetime(local.year, local.month, 1, tzinfo=tz)
    last = end - dt.timedelta(days=1)
    start = dt.datetime(last.year, last.month, 1, tzinfo=tz)
    targets = sorted({*c.report_recipients, *c.rhythm.staff})
    return await monthly.send(
        tx,
        c.t,
        f"{start:%Y-%m}",
        start,
        end,
        targets,
        c.firm_name,
        c.report_emails,
        onboarding_due=c.onboarding_due,
    )


async def _training(c: Context, tx: Tx, now: dt.datetime) -> list[Any]:
    today = now.astimezone(c.rhythm.tz).date()
    return await training.tick(tx, c.t, c.training, today, c.rhythm.staff)


async def _calendar(c: Context, tx: Tx, now: dt.datetime) -> list[Any]:
    return await calendar_warning.calendar_check(tx, c.t, c.rhythm, now)


async def _visits(c: Context, tx: Tx, now: dt.datetime) -> list[Any]:
    today = now.astimezone(c.rhythm.tz).date()
    fire = dt.datetime.combine(today, c.rhythm.visit_at, tzinfo=c.rhythm.tz)
    return await return_visits.return_visits(tx, c.t, c.rhythm, fire)


async def _retention(c: Context, db: Database, now: dt.datetime) -> None:
    assert c.retention is not None
    today = now.astimezone(c.rhythm.tz).date()
    fire = dt.datetime.combine(today, c.retention_at, tzinfo=c.rhythm.tz)
    await retention.daily(db, c.retention, now, fire)
