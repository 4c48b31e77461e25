"""After a ticket is filed, the client's side: talking with the advisor who holds it, their
list of tickets, rating, a word of feedback, and reopening."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.i18n import Markup, Translator
from bot.core.router import UNHANDLED, Router, Tier
from bot.core.state import StateControl
from bot.core.text import clean_input
from bot.core.types import Inbound, Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.menus import main_menu
from handlers.shared.ticket_notices import announce, label
from handlers.tickets import ratings, workflow
from handlers.tickets.intake import expired
from storage.records import Client
from storage.tx import Tx

router = Router("tickets.followup")


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
    if expired(state_data, desk, tx.now(), minutes=desk.reopen_days * 24 * 60):
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


def _servicer_event(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    return {} if event.kind == "servicer" else None


@router.add(Tier.CALLBACK, _servicer_event, ())
async def answered_in_app(event: Inbound, tx: Tx, client: Client, message_id: int) -> None:
    """An advisor wrote to the client in the platform's own app (WeCom's 微信客服 desk): it
    answers the client's newest open ticket. Always taken here: nothing to say to anyone."""
    userid = event.args[0] if event.args else ""
    advisor = (await tx.advisors.by_wecom(userid) if userid else None) or f"wecom-user:{userid}"
    for ticket in await tx.tickets.of_client(client.id, limit=10):
        if ticket.active:
            text = clean_input(event.text) or "-"
            await workflow.answered_in_app(
                tx, ticket, advisor=advisor, text=text[:4000], message_id=message_id
            )
            return


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
        return await ratings.rate(tx, t, fsm, event.sender, ticket, int(parts[2]))
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
    if expired(state_data, desk, tx.now()):  # a new message long after the rating
        return UNHANDLED
    if ticket is None or ticket.client_id != client.id or not text:
        return Outbound(t("ticket.thanks"), buttons=main_menu(t))
    await tx.tickets.update(ticket.id, feedback=text[:2000])
    await tx.tickets.event(ticket.id, event.sender, "feedback", text[:2000])
    return Outbound(t("ticket.thanks"), buttons=main_menu(t))
