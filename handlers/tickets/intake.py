"""The client's side, until a ticket is filed: the complaint form and the question for an
advisor (what follows is in followup.py).

Seed rule: a complaint is heard with sympathy and recorded completely; a question the
front line cannot answer is written down and answered later by someone who knows.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from bot.core.folding import fold
from bot.core.i18n import Translator
from bot.core.phones import mobile
from bot.core.router import Router, SkipHandler
from bot.core.state import StateControl
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound
from broadcasts.rhythm import Rhythm
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.menus import main_menu
from handlers.shared.privacy import private
from handlers.tickets import workflow
from storage.records import Client
from storage.tx import Tx

router = Router("tickets.intake")

MAX_PARTS = 20
MAX_TEXT = 4000
CATEGORIES = ("attitude", "execution", "fees", "tech", "funds", "other")
TRAILING_MARKS = re.compile(r"[。.!~～]+$")
# Said alone while filling in the form (the advisor's chat keeps them: there they are talk).
GIVE_UP = frozenset({"算了", "不用了", "不投诉了", "never mind"})
INTAKE = ("ticket.category", "ticket.describe", "ticket.contact", "ticket.phone", "ticket.confirm")


def _cancel(t: Translator) -> list[Button]:
    return [Button(t("common.cancel"), "req:cancel")]


def _choices(t: Translator, step: str) -> list[list[Button]]:
    """The buttons of a step that waits for a choice, shown again when someone types instead
    (on a channel without buttons, the numbers then still mean these options)."""
    if step == "ticket.category":
        return [
            *(
                [Button(t(f"ticket.cat_{a}"), f"tki:cat:{a}"),
                 Button(t(f"ticket.cat_{b}"), f"tki:cat:{b}")]
                for a, b in zip(CATEGORIES[::2], CATEGORIES[1::2], strict=True)
            ),
            _cancel(t),
        ]  # fmt: skip
    if step == "ticket.contact":
        here = Button(t("ticket.contact_here"), "tki:here")
        return [[here, Button(t("ticket.contact_phone"), "tki:phone")], _cancel(t)]
    if step == "ticket.confirm":
        return [[Button(t("ticket.submit"), "tki:submit")], _cancel(t)]
    return [_cancel(t)]


async def start_complaint(t: Translator, fsm: StateControl, tx: Tx) -> Outbound:
    await fsm.set("ticket.category", started=tx.now().isoformat())
    return Outbound(t("ticket.complaint_intro"), buttons=_choices(t, "ticket.category"))


async def start_consult(t: Translator, fsm: StateControl, tx: Tx) -> Outbound:
    await fsm.set("ticket.question", started=tx.now().isoformat())
    return Outbound(t("ticket.question_prompt"), buttons=[_cancel(t)])


@router.command("complaint")
@router.callback("menu:complaint")
# Anytime: a client talking with their advisor may want to complain about that advisor.
@router.keyword("投诉", "我要投诉", "complaint", exact=True, anytime=True)
async def complaint(event: Inbound, t: Translator, fsm: StateControl, tx: Tx) -> Outbound:
    if not private(event):  # a complaint holds personal details: a phone number, an account
        return Outbound(t("errors.private_only"))
    return await start_complaint(t, fsm, tx)


@router.command("advisor")
@router.callback("menu:advisor")
@router.keyword("人工", "转人工", "找顾问", "人工客服", "advisor", "human", exact=True)
async def consult(event: Inbound, t: Translator, fsm: StateControl, tx: Tx) -> Outbound:
    if not private(event):
        return Outbound(t("errors.private_only"))
    return await start_consult(t, fsm, tx)


@router.keyword("开户咨询", "我要开户", "办理开户", "open account", exact=True)
async def open_account(
    event: Inbound, t: Translator, tx: Tx, client: Client, desk: DeskPolicy
) -> Outbound | list[Outbound]:
    """The start of the service flow for someone who first appears in a chat: a person
    contacts them about opening an account (a consultation ticket)."""
    if not private(event):
        return Outbound(t("errors.private_only"))
    return await workflow.consultation(tx, desk, t, event, client, t("onboard.open_request"))


@router.keyword("预约辅导", "交易前辅导", "预约交易前辅导", "coaching", exact=True)
async def coaching(
    event: Inbound, t: Translator, tx: Tx, desk: DeskPolicy, rhythm: Rhythm
) -> Outbound:
    """The offer of coaching before the first trade, taken up: the next free times to pick
    from (on trading days, ONBOARDING_COACHING_TIMES), or another time to arrange."""
    if not private(event):
        return Outbound(t("errors.private_only"))
    buttons = [
        [Button(desk.local(at), f"coach:{at.astimezone(desk.tz):%Y%m%d%H%M}")]
        for at in coaching_slots(rhythm, desk, tx.now())
    ]
    buttons.append([Button(t("onboard.coach_other"), "coach:other")])
    return Outbound(t("onboard.coach_pick"), buttons=buttons)


@router.callback("coach")
async def coaching_picked(
    event: Inbound, t: Translator, tx: Tx, client: Client, desk: DeskPolicy, rhythm: Rhythm,
    data: str,
) -> Outbound | list[Outbound]:  # fmt: skip
    """A time picked (or "another time"): a ticket for the advisor to confirm it."""
    if data == "other":
        return await workflow.consultation(
            tx, desk, t, event, client, t("onboard.coaching_request")
        )
    offered = {
        f"{at.astimezone(desk.tz):%Y%m%d%H%M}": at for at in coaching_slots(rhythm, desk, tx.now())
    }
    if data not in offered:  # an old message's time, gone by now: the times again
        return await coaching(event, t, tx, desk, rhythm)
    text = t("onboard.coach_booked", at=desk.local(offered[data]))
    return await workflow.consultation(tx, desk, t, event, client, text)


def coaching_slots(
    rhythm: Rhythm, desk: DeskPolicy, now: datetime, count: int = 4
) -> list[datetime]:
    """The next `count` coaching times on trading days, at least two hours ahead."""
    calendar, found = rhythm.calendar(), []
    today = now.astimezone(desk.tz).date()
    for offset in range(14):
        day = today + timedelta(days=offset)
        if not calendar.is_trading(day):
            continue
        for clock in desk.coaching_times:
            at = datetime.combine(day, clock, tzinfo=desk.tz)
            if at >= now + timedelta(hours=2):
                found.append(at)
            if len(found) == count:
                return found
    return found


def expired(
    data: dict[str, Any], desk: DeskPolicy, now: datetime, minutes: int | None = None
) -> bool:
    """Whether a form's (or a talk's) clock ran out; `started` restarts at each step."""
    try:
        started = datetime.fromisoformat(str(data.get("started")))
    except ValueError:
        return True
    return now - started > timedelta(minutes=minutes or desk.intake_minutes)


async def _gone(t: Translator, fsm: StateControl) -> Outbound:
    flow = "consult" if fsm.name == "ticket.question" else "complaint"
    await fsm.clear()
    return Outbound(t(f"ticket.expired_{flow}"), buttons=main_menu(t))


def _fresh(form: dict[str, Any], tx: Tx) -> dict[str, Any]:
    """The form with its clock restarted: the time limit counts from the last step."""
    return {**form, "started": tx.now().isoformat()}


@router.callback("tki")
async def intake_button(
    event: Inbound,
    data: str,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    client: Client,
    desk: DeskPolicy,
) -> Outbound | list[Outbound]:
    state = fsm.current
    if state is None or state.state not in INTAKE:
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    form = dict(state.data)
    if expired(form, desk, tx.now()):
        return await _gone(t, fsm)
    action, _, arg = data.partition(":")
    if action == "cat" and arg in CATEGORIES and state.state == "ticket.category":
        await fsm.set("ticket.describe", **_fresh(form, tx), category=arg, parts=[])
        return Outbound(
            t("ticket.describe_prompt", category=t(f"ticket.cat_{arg}")), buttons=[_cancel(t)]
        )
    if action == "done" and state.state == "ticket.describe":
        if not form.get("parts"):
            return Outbound(t("ticket.describe_first"), buttons=[_cancel(t)])
        await fsm.set("ticket.contact", **_fresh(form, tx))
        return Outbound(t("ticket.contact_prompt"), buttons=_choices(t, "ticket.contact"))
    if action == "here" and state.state == "ticket.contact":
        return await _confirm(t, fsm, _fresh(form, tx), contact=None)
    if action == "phone" and state.state == "ticket.contact":
        await fsm.set("ticket.phone", **_fresh(form, tx))
        return Outbound(t("ticket.phone_prompt"), buttons=[_cancel(t)])
    if action == "submit" and state.state == "ticket.confirm":
        await fsm.clear()
        ticket, outs = await workflow.open_ticket(
            tx,
            desk,
            t,
            kind="complaint",
            client=client,
            chat=event.chat,
            actor=event.sender,
            text="\n".join(form["parts"]),
            category=form.get("category"),
            contact=form.get("contact"),
        )
        return [workflow.acknowledgement(t, ticket), *outs]
    return Outbound(t("errors.stale_button"), buttons=[_cancel(t)])


async def _confirm(
    t: Translator, fsm: StateControl, form: dict[str, Any], *, contact: str | None
) -> Outbound:
    await fsm.set("ticket.confirm", **{**form, "contact": contact})
    summary = t(
        "ticket.summary",
        category=t(f"ticket.cat_{form['category']}"),
        text="\n".join(form["parts"]),
        contact=contact or t("ticket.contact_this_chat"),
    )
    return Outbound(summary, buttons=_choices(t, "ticket.confirm"))


@router.state(*INTAKE, "ticket.question")
async def intake_text(
    event: Inbound,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    client: Client,
    desk: DeskPolicy,
    state_data: dict[str, Any],
) -> Outbound | list[Outbound]:
    if expired(state_data, desk, tx.now()):
        # Told why the form is gone, and what they wrote now is answered as usual.
        gone = await _gone(t, fsm)
        if event.kind != "text" or not clean_input(event.text):
            return gone
        gone.buttons = []
        raise SkipHandler(gone)
    text = clean_input(event.text)
    name = fsm.name
    if TRAILING_MARKS.sub("", fold(text)) in GIVE_UP:  # in a form "never mind" means leave it
        await fsm.clear()
        return Outbound(t("request.cancelled"), buttons=main_menu(t))
    if name == "ticket.describe":
        if event.kind != "text" or not text:
            return Outbound(t("ticket.need_text"), buttons=[_cancel(t)])
        parts = [*state_data.get("parts", []), text]
        if len(parts) > MAX_PARTS or sum(map(len, parts)) > MAX_TEXT:
            return Outbound(
                t("ticket.too_long", limit=MAX_TEXT),
                buttons=[[Button(t("ticket.done"), "tki:done")]],
            )
        await fsm.set("ticket.describe", **{**_fresh(state_data, tx), "parts": parts})
        buttons = [[Button(t("ticket.done"), "tki:done")], _cancel(t)]
        return Outbound(t("ticket.part_noted", n=len(parts)), buttons=buttons)
    if name == "ticket.phone":
        phone = mobile(text)
        if phone is None:
            return Outbound(t("ticket.phone_invalid"), buttons=[_cancel(t)])
        return await _confirm(t, fsm, _fresh(state_data, tx), contact=phone)
    if name == "ticket.question":
        if event.kind != "text" or not text:
            return Outbound(t("ticket.need_text"), buttons=[_cancel(t)])
        await fsm.clear()
        return await workflow.consultation(tx, desk, t, event, client, text[:MAX_TEXT])
    # Typing where a choice is expected: the same choices again.
    return Outbound(t("ticket.use_buttons"), buttons=_choices(t, name or ""))
