"""The client's side: filing a complaint, asking for an advisor, their tickets, rating.

Seed rule: a complaint is heard with sympathy and recorded completely; a question the
front line cannot answer is written down and answered later by someone who knows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.core.i18n import Markup, Translator
from bot.core.router import UNHANDLED, Router, SkipHandler
from bot.core.state import StateControl
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.menus import main_menu
from handlers.shared.phones import mobile
from handlers.shared.privacy import private
from handlers.shared.ticket_notices import announce, label
from handlers.tickets import workflow
from storage.records import Client
from storage.tx import Tx

router = Router("tickets.intake")

MAX_PARTS = 20
MAX_TEXT = 4000
CATEGORIES = ("attitude", "execution", "fees", "tech", "funds", "other")
INTAKE = ("ticket.category", "ticket.describe", "ticket.contact", "ticket.phone", "ticket.confirm")


def _cancel(t: Translator) -> list[Button]:
    return [Button(t("common.cancel"), "req:cancel")]


async def start_complaint(t: Translator, fsm: StateControl, tx: Tx) -> Outbound:
    await fsm.set("ticket.category", started=tx.now().isoformat())
    rows = [
        [Button(t(f"ticket.cat_{a}"), f"tki:cat:{a}"), Button(t(f"ticket.cat_{b}"), f"tki:cat:{b}")]
        for a, b in zip(CATEGORIES[::2], CATEGORIES[1::2], strict=True)
    ]
    return Outbound(t("ticket.complaint_intro"), buttons=[*rows, _cancel(t)])


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


def _expired(
    data: dict[str, Any], desk: DeskPolicy, now: datetime, minutes: int | None = None
) -> bool:
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
    if _expired(form, desk, tx.now()):
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
        buttons = [
            [
                Button(t("ticket.contact_here"), "tki:here"),
                Button(t("ticket.contact_phone"), "tki:phone"),
            ],
            _cancel(t),
        ]
        return Outbound(t("ticket.contact_prompt"), buttons=buttons)
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
    buttons = [[Button(t("ticket.submit"), "tki:submit")], _cancel(t)]
    return Outbound(summary, buttons=buttons)


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
    if _expired(state_data, desk, tx.now()):
        # Told why the form is gone, and what they wrote now is answered as usual.
        gone = await _gone(t, fsm)
        if event.kind != "text" or not clean_input(event.text):
            return gone
        gone.buttons = []
        raise SkipHandler(gone)
    text = clean_input(event.text)
    name = fsm.name
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
    # Typing where a button is expected: say which buttons.
    return Outbound(t("ticket.use_buttons"), buttons=[_cancel(t)])


@router.state(workflow.TALK)
async def talk(
    event: Inbound,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    client: Client,
    desk: DeskPolicy,
    state_data: dict[str, Any],
    message_id: int,
) -> Outbound | list[Outbound]:
    """While an advisor talks with the client, what the client writes goes to them (to the
    ticket they quoted, when they answered a particular relayed message)."""
    ticket = await workflow.quoted_ticket(tx, event, client)
    if ticket is not None and ticket.id != state_data.get("ticket"):
        state_data = {**state_data, "ticket": ticket.id}
        await fsm.set(workflow.TALK, **state_data)
    ticket = ticket or await tx.tickets.get(int(state_data.get("ticket", 0)))
    if ticket is None or ticket.client_id != client.id or not ticket.active:
        await fsm.clear()
        return Outbound(t("ticket.talk_over"), buttons=main_menu(t))
    if _expired(state_data, desk, tx.now(), minutes=desk.reopen_days * 24 * 60):
        await fsm.clear()  # days of silence: the client is back with the bot
        return UNHANDLED
    text = clean_input(event.text)
    told: list[Outbound] = []
    if event.kind != "text" and not text:
        text = t("ticket.sent_media")
        told.append(Outbound(t("ticket.media_not_relayed")))
    if not text:
        return told
    outs = await workflow.relay_to_desk(
        tx, desk, t, ticket, client, text=text, message_id=message_id
    )
    if ticket.status == "waiting" and not told:  # the first word since the advisor's reply
        told.append(Outbound(t("ticket.relayed")))  # no buttons: digits stay words here
    return [*told, *outs]


STATUS_ICON = {"open": "🟡", "claimed": "🔵", "waiting": "💬", "resolved": "✅", "closed": "⚪"}


async def my_tickets(tx: Tx, t: Translator, client: Client, desk: DeskPolicy) -> list[str]:
    lines = []
    for ticket in await tx.tickets.of_client(client.id, limit=10):
        lines.append(
            t(
                "ticket.my_line",
                icon=STATUS_ICON.get(ticket.status, ""),
                label=Markup(label(t, ticket)),
                status=t(f"ticket.status_{ticket.status}"),
                at=desk.local(ticket.created_at),
            )
        )
    return lines


@router.callback("tkc")
async def client_button(
    event: Inbound,
    data: str,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    client: Client,
    desk: DeskPolicy,
) -> Outbound | list[Outbound]:
    """Rating and reopening; only ever on the presser's own ticket, whatever the data says."""
    parts = data.split(":")
    raw = parts[1] if len(parts) > 1 else ""
    ticket = await tx.tickets.get(int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if ticket is None or ticket.client_id != client.id:
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    action = parts[0]
    if action == "rate" and len(parts) == 3 and parts[2] in {"1", "2", "3", "4", "5"}:
        if ticket.status not in ("resolved", "closed"):
            return Outbound(t("errors.stale_button"), buttons=main_menu(t))
        if ticket.rating is not None:
            return Outbound(t("ticket.already_rated"))
        await tx.tickets.update(ticket.id, rating=int(parts[2]))
        await tx.tickets.event(ticket.id, event.sender, "rated", parts[2])
        await fsm.set("ticket.feedback", ticket=ticket.id, started=tx.now().isoformat())
        skip = [[Button(t("ticket.no_comment"), f"tkc:skip:{ticket.id}")]]
        return Outbound(t("ticket.rated", stars="⭐" * int(parts[2])), buttons=skip)
    if action == "skip":
        await fsm.clear()
        return Outbound(t("ticket.thanks"), buttons=main_menu(t))
    if action == "leave":
        if fsm.name == workflow.TALK:
            await fsm.clear()
        return Outbound(t("ticket.left", label=Markup(label(t, ticket))), buttons=main_menu(t))
    if action == "reopen":
        return await _reopen(tx, desk, t, event, client, ticket, fsm)
    return Outbound(t("errors.stale_button"), buttons=main_menu(t))


async def _reopen(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    event: Inbound,
    client: Client,
    ticket: Any,
    fsm: StateControl,
) -> Outbound | list[Outbound]:
    if ticket.status != "resolved" or ticket.resolved_at is None:
        return Outbound(
            t("ticket.cannot_reopen", label=Markup(label(t, ticket))), buttons=main_menu(t)
        )
    if tx.now() - ticket.resolved_at > timedelta(days=desk.reopen_days):
        return Outbound(
            t("ticket.cannot_reopen", label=Markup(label(t, ticket))), buttons=main_menu(t)
        )
    status = "claimed" if ticket.advisor else "open"
    now = tx.now()
    due = desk.due(ticket.kind, ticket.vip, now)  # a reopened case is answered anew
    await tx.tickets.update(
        ticket.id,
        status=status,
        resolved_at=None,
        due_at=due,
        responded_at=None,
        breach_alerted=False,
    )
    await fsm.set(workflow.TALK, ticket=ticket.id, started=now.isoformat())
    await tx.tickets.event(ticket.id, event.sender, "reopened")
    await tx.audit.log(event.sender, "ticket.reopen", ticket=ticket.number)
    fresh = await tx.tickets.get(ticket.id)
    outs = await announce(tx, desk, t, fresh, client, why="reopened")  # type: ignore[arg-type]
    return [
        Outbound(t("ticket.reopened", label=Markup(label(t, ticket))), buttons=main_menu(t)),
        *outs,
    ]


@router.state("ticket.feedback")
async def feedback(
    event: Inbound,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    client: Client,
    desk: DeskPolicy,
    state_data: dict[str, Any],
) -> Outbound | list[Outbound]:
    ticket = await tx.tickets.get(int(state_data.get("ticket", 0)))
    await fsm.clear()
    text = clean_input(event.text)
    if _expired(state_data, desk, tx.now()):  # a new message long after the rating
        return UNHANDLED
    if ticket is None or ticket.client_id != client.id or not text:
        return Outbound(t("ticket.thanks"), buttons=main_menu(t))
    await tx.tickets.update(ticket.id, feedback=text[:2000])
    await tx.tickets.event(ticket.id, event.sender, "feedback", text[:2000])
    return Outbound(t("ticket.thanks"), buttons=main_menu(t))
