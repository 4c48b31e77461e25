"""Answers to the non-farm day training invitation (buttons, or words on any channel, later
too), and /training for staff."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Translator
from bot.core.router import UNHANDLED, Router
from bot.core.types import Button, Inbound, Outbound
from broadcasts.rhythm import Rhythm
from broadcasts.training import ANSWERS, TrainingPolicy
from handlers.shared.menus import main_menu
from storage.records import Client
from storage.repos.training import Promoted, Session
from storage.tx import Tx

router = Router("training")

# Typed answers, for channels without buttons and for changing one's mind days later.
ATTEND_WORDS = (
    "参加", "我参加", "改为参加", "我要参加", "报名参加",
    "attend", "attending", "i will attend", "change to attending",
)  # fmt: skip
DECLINE_WORDS = (
    "不参加", "我不参加", "改为不参加", "不参加了", "取消参加",
    "not attend", "not attending", "decline", "not this time", "i will not attend",
    "change to not attending",
)  # fmt: skip


@router.callback("tr")
async def rsvp(
    event: Inbound, data: str, t: Translator, tx: Tx, client: Client, rhythm: Rhythm
) -> Outbound | list[Outbound]:
    raw, _, answer = data.rpartition(":")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        day = None
    session = await tx.training.session(day) if day else None
    today = tx.now().astimezone(rhythm.tz).date()
    if session is None or answer not in ANSWERS or session.day < today - dt.timedelta(days=1):
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    return await _answer(event, t, tx, client, session, answer)


@router.keyword(*ATTEND_WORDS, exact=True)
async def attend_word(
    event: Inbound, t: Translator, tx: Tx, client: Client, rhythm: Rhythm
) -> Outbound | list[Outbound]:
    return await _typed(event, t, tx, client, rhythm, "attend")


@router.keyword(*DECLINE_WORDS, exact=True)
async def decline_word(
    event: Inbound, t: Translator, tx: Tx, client: Client, rhythm: Rhythm
) -> Outbound | list[Outbound]:
    return await _typed(event, t, tx, client, rhythm, "no")


async def _typed(
    event: Inbound, t: Translator, tx: Tx, client: Client, rhythm: Rhythm, answer: str
) -> Outbound | list[Outbound]:
    """A typed answer goes to the client's latest open invitation; with none, the words are
    not about training (the FAQ or another handler answers them)."""
    session = await tx.training.open_for(client.id, tx.now().astimezone(rhythm.tz).date())
    if session is None:
        return UNHANDLED
    return await _answer(event, t, tx, client, session, answer)


async def _answer(
    event: Inbound, t: Translator, tx: Tx, client: Client, session: Session, answer: str
) -> list[Outbound]:
    status, promoted = await tx.training.answer(session.day, client.id, event.chat, answer)
    return [_where_you_stand(t, session, answer, status), *_told(t, session, promoted)]


def _where_you_stand(t: Translator, session: Session, answer: str, status: str) -> Outbound:
    """The client's answer in words, with the way to change it: every confirmation (and
    /training asked again later) offers the way back, so a mind can be changed anywhere."""
    key = {"seat": "training.seat", "waiting": "training.waiting"}.get(
        status, f"training.noted_{answer}"
    )
    if status in ("seat", "waiting"):
        options = [("change_no", "no")]
    elif answer == "no":
        options = [("change_attend", "attend")]
    else:
        options = [("attend", "attend"), ("no", "no")]
    text = t(key, day=session.day.isoformat(), time=session.time, place=session.place)
    return Outbound(text, buttons=_buttons(t, session, options))


def _buttons(t: Translator, session: Session, options: list[tuple[str, str]]) -> list[list[Button]]:
    day = session.day.isoformat()
    return [[Button(t(f"training.{label}"), f"tr:{day}:{answer}") for label, answer in options]]


def _told(t: Translator, session: Session, promoted: list[Promoted]) -> list[Outbound]:
    """Each client moved up from the waiting list hears it in their own language."""
    outs = []
    for p in promoted:
        tp = t.with_lang(p.language)
        text = tp("training.promoted", day=session.day.isoformat(), time=session.time,
                  place=session.place)  # fmt: skip
        buttons = _buttons(tp, session, [("change_no", "no")])
        outs.append(Outbound(text, chat=p.chat, buttons=buttons))
    return outs


@router.command("training")
async def training(
    event: Inbound,
    t: Translator,
    tx: Tx,
    args: list[str],
    training_policy: TrainingPolicy,
    rhythm: Rhythm,
    roles: frozenset[str],
    client: Client,
) -> Outbound | list[Outbound]:
    """/training, or /training set DATE place TEXT | seats N | time HH:MM, for staff; a
    client sees their own invitation again, with its options."""
    if not roles & {"staff", "admin"}:
        return await _mine(t, tx, client, rhythm)
    if args and args[0].lower() == "set":
        return await _set(event, t, tx, args[1:], training_policy)
    sessions = await tx.training.upcoming(tx.now().astimezone(rhythm.tz).date())
    if not sessions:
        return Outbound(t("training.none"))
    lines = [t("training.list_title")]
    for s in sessions:
        taken = await tx.training.count(s.day, "seat")
        waiting = await tx.training.count(s.day, "waiting")
        lines.append(
            t("training.list_line", day=s.day.isoformat(), time=s.time, place=s.place,
              seats=s.seats, taken=taken, waiting=waiting)
        )  # fmt: skip
    return Outbound("\n".join(lines))


async def _mine(t: Translator, tx: Tx, client: Client, rhythm: Rhythm) -> Outbound:
    session = await tx.training.open_for(client.id, tx.now().astimezone(rhythm.tz).date())
    if session is None:
        return Outbound(t("training.none_for_you"), buttons=main_menu(t))
    reply = await tx.training.reply(session.day, client.id)
    if reply is None:  # not answered yet: the invitation's own question again
        options = [("attend", "attend"), ("maybe", "maybe"), ("no", "no")]
        text = t("training.asked_again", day=session.day.isoformat(), time=session.time,
                 place=session.place)  # fmt: skip
        return Outbound(text, buttons=_buttons(t, session, options))
    return _where_you_stand(t, session, *reply)


async def _set(
    event: Inbound, t: Translator, tx: Tx, args: list[str], policy: TrainingPolicy
) -> Outbound | list[Outbound]:
    try:
        day = dt.date.fromisoformat(args[0]) if args else None
    except ValueError:
        day = None
    field = args[1].lower() if len(args) > 1 else ""
    value = " ".join(args[2:]).strip()
    if day is None or field not in ("place", "seats", "time") or not value:
        return Outbound(t("training.set_usage"))
    if field == "seats" and not (value.isdigit() and 1 <= int(value) <= 10_000):
        return Outbound(t("training.set_usage"))
    if field == "time":
        try:
            value = dt.time.fromisoformat(value).strftime("%H:%M")
        except ValueError:
            return Outbound(t("training.set_usage"))
    if field == "place" and len(value) > 200:
        return Outbound(t("training.set_usage"))
    await tx.training.ensure(day, place=policy.place, time=policy.time, seats=policy.seats)
    if field == "seats":
        # A seat once confirmed is kept: fewer seats than are taken would take one back.
        taken = await tx.training.count(day, "seat")
        if int(value) < taken:
            return Outbound(t("training.set_below_taken", day=day.isoformat(), taken=taken))
    await tx.training.update(day, **{field: int(value) if field == "seats" else value})
    await tx.audit.log(event.sender, "training.set", day=day.isoformat(), field=field, value=value)
    text = t("training.set_done", day=day.isoformat(), field=t(f"training.field_{field}"),
             value=value)  # fmt: skip
    if field != "seats":
        return Outbound(text)
    session = await tx.training.session(day)
    assert session is not None  # ensured above
    promoted = await tx.training.fill(day)  # more seats: the waiting list moves up, in order
    if promoted:
        text += "\n" + t("training.set_promoted", n=len(promoted))
    return [Outbound(text), *_told(t, session, promoted)]
