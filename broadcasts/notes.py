"""The morning and evening notes on trading days: each slot's note goes out as a broadcast
to the topic's subscribers, staff are reminded before a slot that has no note, and after a
restart the slots that passed are caught up.

Each fire only records itself (job, fire time) and writes its work in the same transaction,
so a restart or a second process never sends twice. A slot missed while the bot was down
goes out late within a grace window, else is recorded as missed and staff (and the note's
author) are told; nothing is dropped silently."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Translator
from bot.core.types import Outbound
from broadcasts import lifecycle
from broadcasts.lifecycle import BroadcastError
from broadcasts.rhythm import SLOTS, Rhythm
from storage.tx import Tx


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
            return rhythm.to_staff(t("rhythm.no_calendar", slot=name, day=day.isoformat()))
        return []
    if not await tx.rhythm.claim_fire(job, fire, "late" if late else "done"):
        return []  # fired already: another process, or before a restart
    note = await tx.rhythm.note(slot, day)
    if note is None:
        await tx.rhythm.set_outcome(job, fire, "missing", None)
        return rhythm.to_staff(t("rhythm.missing", slot=name, day=day.isoformat()))
    try:
        plan = await lifecycle.plan(
            tx, t, author=note.author, text=note.text, topics=[slot], blocked="rhythm.blocked"
        )
    except BroadcastError as exc:
        await tx.rhythm.set_outcome(job, fire, "refused", str(exc))
        return rhythm.to_staff(t("rhythm.refused", slot=name, why=str(exc)))
    created = await lifecycle.create(tx, plan, author=note.author, send_at=tx.now())
    await tx.rhythm.mark_sent(slot, day, created.id)
    return rhythm.to_staff(t("rhythm.sent", slot=name, id=created.id, n=created.recipients))


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
    return rhythm.to_staff(t("rhythm.remind", slot=name, minutes=rhythm.remind_minutes, key=slot))


async def catch_up(tx: Tx, t: Translator, rhythm: Rhythm, now: dt.datetime) -> list[Outbound]:
    """At start: the slots that passed while the bot was down go out late within the grace,
    else are recorded as missed and staff are told. A bot that never ran a slot before has
    missed nothing, except the notes written for it: those count wherever they lie."""
    outs: list[Outbound] = []
    grace = dt.timedelta(minutes=rhythm.grace_minutes)
    for slot in SLOTS:
        fire = rhythm.last_fire(slot, now)
        if await tx.rhythm.fired(f"note.{slot}", fire) is not None:
            continue
        note = await tx.rhythm.note(slot, fire.astimezone(rhythm.tz).date())
        written = note is not None and note.broadcast_id is None
        if not written and not await tx.rhythm.ran_before(f"note.{slot}", fire):
            # Recorded, so the next start sees a bot that runs, not a first run again.
            await tx.rhythm.claim_fire(f"note.{slot}", fire, "skipped", "before the first run")
            continue
        if now - fire <= grace:
            outs += await run_slot(tx, t, rhythm, slot, fire, late=True)
        else:
            outs += await _missed(tx, t, rhythm, slot, fire)
    # Older notes whose slot passed unrecorded (the bot down for days, or never started).
    for note in await tx.rhythm.unsent_notes(until=now.astimezone(rhythm.tz).date()):
        fire = rhythm.at(note.slot, note.day)
        if fire < now and await tx.rhythm.fired(f"note.{note.slot}", fire) is None:
            outs += await _missed(tx, t, rhythm, note.slot, fire)
    return outs


async def _missed(
    tx: Tx, t: Translator, rhythm: Rhythm, slot: str, fire: dt.datetime
) -> list[Outbound]:
    """A slot past its grace: recorded as missed once; staff hear of it, and a written note's
    author too, with what it said."""
    day = fire.astimezone(rhythm.tz).date()
    if rhythm.calendar().is_trading(day) is not True:  # nothing was due: recorded as skipped
        return await run_slot(tx, t, rhythm, slot, fire, late=True)
    if not await tx.rhythm.claim_fire(f"note.{slot}", fire, "missed"):
        return []
    note = await tx.rhythm.note(slot, day)
    at = f"{fire.astimezone(rhythm.tz):%Y-%m-%d %H:%M}"
    if note is None or note.broadcast_id is not None:
        return rhythm.to_staff(t("rhythm.missed", slot=t(f"rhythm.slot_{slot}"), at=at))

    def told(tl: Translator) -> str:
        name = tl(f"rhythm.slot_{slot}")
        return tl("rhythm.missed_note", slot=name, at=at, text=note.text[:200])

    outs = rhythm.to_staff(told(t))
    if note.author not in rhythm.staff:
        author = await tx.clients.by_address(note.author)
        tl = t.with_lang(author.language) if author and author.language else t
        outs.append(Outbound(told(tl), chat=note.author))
    return outs
