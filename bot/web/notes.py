"""The staff console's notes page: the coming days on the trading calendar (holidays,
overrides and days it has no data for marked), each day's morning and evening slots with
whether their note is written, missing ones on trading days highlighted, the non-farm
payroll days with their training sessions; a note is written or changed ahead through the
chat's own `/note` as the staff member (`acting.act`), screened and answered as in a chat."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
import chinese_calendar
from aiohttp import web

from bot.core.text import clean_input
from bot.web.acting import act, answers_to
from bot.web.desk import who
from bot.web.guard import APP, config, database, redirect, staff_only
from broadcasts import nfp
from broadcasts.rhythm import SLOTS
from broadcasts.trading_calendar import CalendarError, Day

routes = web.RouteTableDef()

DAYS = 14  # today and the next 13
# The holiday package names its days in English; their Chinese names for Chinese pages.
HOLIDAYS_ZH = {h.value: h.chinese for h in chinese_calendar.Holiday}


@dataclass(frozen=True, slots=True)
class Slot:
    key: str
    at: dt.datetime
    note: Any  # storage.repos.rhythm.Note, or None when none is written
    state: str  # sent | written | missing | passed | closed | unknown


@dataclass(frozen=True, slots=True)
class Training:
    beijing: dt.datetime  # the payroll release, in Beijing
    session: Any  # storage.repos.training.Session, or None before the invitations
    seats: int = 0  # taken
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class Row:
    day: Day
    slots: list[Slot]
    training: Training | None

    @property
    def kind(self) -> str:
        return {True: "trading", False: "closed", None: "unknown"}[self.day.trading]

    @property
    def holiday(self) -> str:
        """The holiday's or make-up day's name, as the holiday package gives it."""
        return self.day.reason.partition(":")[2]

    @property
    def reason(self) -> str:
        return self.day.reason.partition(":")[0].replace(" ", "_")


def _state(day: Day, at: dt.datetime, note: Any, now: dt.datetime) -> str:
    if note is not None:
        return "sent" if note.broadcast_id else "written"
    if day.trading is None:
        return "unknown"
    if day.trading is False:
        return "closed"
    return "passed" if at <= now else "missing"


@routes.get("/notes")
async def notes_page(request: web.Request) -> web.Response:
    staff_only(request)
    return await _page(request, request.query.get("done"))


async def _page(
    request: web.Request, done: str | None, kept: tuple[str, str, str] | None = None
) -> web.Response:
    """The page; `kept`: the day, slot and text of a note the chat did not take, shown in
    the form again so nothing typed is lost."""
    rhythm = request.config_dict[APP].rhythm
    async with database(request).read() as tx:
        now = tx.now()
        today = now.astimezone(rhythm.tz).date()
        written = {
            (n.day, n.slot): n for n in await tx.rhythm.upcoming_notes(today, limit=2 * DAYS)
        }
        sessions = {s.day: s for s in await tx.training.upcoming(today)}
        taken = {
            day: (await tx.training.count(day, "seat"), await tx.training.count(day, "waiting"))
            for day in sessions
        }
    try:
        calendar, broken = rhythm.calendar(), None
    except CalendarError as exc:  # the override file cannot be read: nothing is known
        calendar, broken = None, str(exc)
    releases = {
        r.date: r.beijing for year in {today.year, today.year + 1} for r in nfp.releases_in(year)
    }
    rows = []
    for offset in range(DAYS):
        date = today + dt.timedelta(days=offset)
        day = calendar.day(date) if calendar else Day(date, None, "no data")
        slots = [
            Slot(slot, at, note, _state(day, at, note, now))
            for slot in SLOTS
            for at, note in [(rhythm.at(slot, date), written.get((date, slot)))]
        ]
        training = None
        if date in releases:
            session = sessions.get(date)
            training = Training(releases[date], session, *taken.get(date, (0, 0)))
        rows.append(Row(day, slots, training))
    wanted_day = request.query.get("day", "")
    wanted_slot = request.query.get("slot", "")
    note = written.get((_date(wanted_day), wanted_slot)) if wanted_day else None
    text = note.text if note else ""
    if kept is not None:
        wanted_day, wanted_slot, text = kept
    context = {
        "rows": rows, "slots": SLOTS, "broken": broken, "today": today, "holidays": HOLIDAYS_ZH,
        "day": wanted_day[:10], "slot": wanted_slot if wanted_slot in SLOTS else SLOTS[0],
        "text": text, "nonce": secrets.token_urlsafe(16),
        "answers": await answers_to(request, who(request), done),
    }  # fmt: skip
    return aiohttp_jinja2.render_template("notes.html", request, context)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


@routes.post("/notes")
async def write(request: web.Request) -> web.StreamResponse:
    """`/note SLOT --date DAY TEXT`, as typed in a chat: the chat's rules decide (closed
    days, passed slots, the compliance screen, who may)."""
    staff_only(request)
    form = await request.post()
    slot, text = str(form.get("slot", "")), str(form.get("text", "")).strip()
    day = _date(str(form.get("day", "")))
    if slot not in SLOTS or day is None or not text:
        raise web.HTTPBadRequest(text="a slot, a day and the text, please")
    nonce = str(form.get("nonce", "")) or None
    done = await act(request, who(request), text=f"/note {slot} --date {day} {text}", nonce=nonce)
    back = config(request).path + "/notes"
    if done is None:
        return redirect(back + "?again=1")
    async with database(request).read() as tx:
        saved = {(n.day, n.slot): n.text for n in await tx.rhythm.upcoming_notes(day, limit=4)}
    if clean_input(saved.get((day, slot), "")) != clean_input(text):
        return await _page(request, str(done), (day.isoformat(), slot, text))  # not taken
    return redirect(f"{back}?done={done}")
