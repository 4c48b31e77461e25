"""The advisors' and staff's side: claim, reply, resolve, hand over, lists and history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.core.compliance import forbidden_in
from bot.core.folding import fold
from bot.core.i18n import Markup, Translator
from bot.core.router import UNHANDLED, Router, Tier
from bot.core.state import StateControl
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound, normalize_address
from handlers.shared import ticket_notices as notices
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.language import parse_languages
from handlers.tickets import ratings, workflow
from handlers.tickets.followup import my_tickets
from storage.records import Client, Ticket
from storage.tx import Tx

router = Router("tickets.desk")

DESK = ("advisor", "staff")
PENDING = ("desk.reply", "desk.resolve")
PENDING_MINUTES = 30  # a reply button pressed and forgotten must not catch a later message
CLEAR = frozenset({"无", "none", "-"})  # /duty langs 无: reads no language in particular


def _is_desk(roles: frozenset[str]) -> bool:
    return bool(roles & {"advisor", "staff", "admin"})


async def _find(tx: Tx, text: str) -> Ticket | None:
    """A ticket by number (TS-20261128-0007) or by its internal id from a button."""
    text = text.strip()
    if text.isdigit() and len(text) < 10:
        return await tx.tickets.get(int(text))
    if 8 <= len(text) <= 24:
        return await tx.tickets.by_number(text)
    return None


async def _holder_or_free(
    tx: Tx, t: Translator, ticket: Ticket, sender: str, roles: frozenset[str]
) -> str | None:
    """None when `sender` may act on the ticket, else why not."""
    if ticket.status == "closed":
        return t("desk.closed", label=Markup(notices.label(t, ticket)))
    if ticket.claimed and ticket.advisor not in (None, sender) and not roles & {"staff", "admin"}:
        return t("desk.taken", label=Markup(notices.label(t, ticket)), advisor=ticket.advisor)
    return None


async def _may_answer(
    tx: Tx, t: Translator, event: Inbound, roles: frozenset[str], ticket: Ticket, text: str
) -> Outbound | None:
    """Why `event.sender` may not send `text` to the ticket's client now (a reply or the
    result), or None: someone else holds it, it is resolved, or the text promises returns
    (the attempt is audited)."""
    refused = await _holder_or_free(tx, t, ticket, event.sender, roles)
    if refused:
        return Outbound(refused)
    if ticket.status == "resolved":
        return Outbound(t("desk.resolved_already", label=Markup(notices.label(t, ticket))))
    phrases = forbidden_in(text)
    if phrases:
        await tx.audit.log(
            event.sender, "ticket.reply_blocked", ticket=ticket.number, phrases=phrases,
            text=text[:2000],
        )  # fmt: skip
        return Outbound(t("desk.blocked", phrases="、".join(phrases)))
    return None


async def reply(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    event: Inbound,
    roles: frozenset[str],
    ticket: Ticket,
    text: str,
    message_id: int,
) -> list[Outbound]:
    """Screen the advisor's reply, then relay it to the client."""
    refused = await _may_answer(tx, t, event, roles, ticket, text)
    if refused:
        return [refused]
    if not ticket.claimed and await tx.tickets.claim(ticket.id, event.sender):
        await tx.tickets.event(ticket.id, event.sender, "claimed")  # answering takes it
        ticket = await tx.tickets.get(ticket.id) or ticket
    outs = await workflow.relay_to_client(
        tx, t, ticket, advisor=event.sender, text=text, message_id=message_id
    )
    await tx.audit.log(event.sender, "ticket.reply", ticket=ticket.number)
    return [*outs, Outbound(t("desk.replied", label=Markup(notices.label(t, ticket))))]


@router.callback("tk", roles=DESK)
async def desk_button(
    event: Inbound,
    data: str,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    roles: frozenset[str],
    desk: DeskPolicy,
) -> Outbound | list[Outbound]:
    action, _, rest = data.partition(":")
    raw, _, target = rest.partition(":")
    ticket = await _find(tx, raw) if raw.isdigit() else None
    if ticket is None:
        return Outbound(t("errors.stale_button"))
    label = Markup(notices.label(t, ticket))
    if action == "c":
        if ticket.status == "closed":
            return Outbound(t("desk.closed", label=label))
        if ticket.status == "resolved":
            return Outbound(t("desk.resolved_already", label=label))
        if await tx.tickets.claim(ticket.id, event.sender):
            await tx.tickets.event(ticket.id, event.sender, "claimed")
            await tx.audit.log(event.sender, "ticket.claim", ticket=ticket.number)
            done = Outbound(t("desk.claimed", label=label), buttons=notices.desk_buttons(t, ticket))
            routed = ticket.advisor
            if routed is None or routed == event.sender:
                return done
            tr = await notices.translator_for(tx, t, routed)  # their notice is out of date
            told = tr(
                "desk.claimed_by", label=Markup(notices.label(tr, ticket)), advisor=event.sender
            )
            return [done, Outbound(told, chat=routed)]
        fresh = await tx.tickets.get(ticket.id)
        holder = fresh.advisor if fresh else None
        if holder == event.sender:
            return Outbound(t("desk.yours_already", label=label))
        return Outbound(t("desk.taken", label=label, advisor=holder or "-"))
    if action in ("r", "s"):
        refused = await _holder_or_free(tx, t, ticket, event.sender, roles)
        if refused:
            return Outbound(refused)
        if action == "s" and ticket.status == "resolved":
            return Outbound(t("desk.resolved_already", label=label))
        await fsm.set(
            "desk.reply" if action == "r" else "desk.resolve",
            ticket=ticket.id,
            started=tx.now().isoformat(),
        )
        prompt = "desk.reply_prompt" if action == "r" else "desk.resolve_prompt"
        return Outbound(
            t(prompt, label=label), buttons=[[Button(t("common.cancel"), "req:cancel")]]
        )
    if action == "h":
        others = [a for a in await tx.advisors.on_duty() if a != ticket.advisor]
        if not others:
            return Outbound(t("desk.nobody_to_hand_to"))
        rows = [[Button(a, f"tk:to:{ticket.id}:{a}")] for a in others[:10]]
        return Outbound(t("desk.hand_to", label=label), buttons=rows)
    if action == "to":
        return await _hand_over(tx, desk, t, event, roles, ticket, target)
    return Outbound(t("errors.stale_button"))


async def _hand_over(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    event: Inbound,
    roles: frozenset[str],
    ticket: Ticket,
    target: str,
) -> Outbound | list[Outbound]:
    try:
        target = normalize_address(target)
    except ValueError:
        return Outbound(t("errors.stale_button"))
    refused = await _holder_or_free(tx, t, ticket, event.sender, roles)
    if refused:
        return Outbound(refused)
    label = Markup(notices.label(t, ticket))
    if not ticket.active:
        return Outbound(t("desk.resolved_already", label=label))
    if target == ticket.advisor:
        return Outbound(t("desk.yours_already", label=label))
    if target not in await tx.advisors.on_duty():
        return Outbound(t("desk.not_on_duty", address=target))
    await tx.tickets.update(
        ticket.id,
        advisor=target,
        claimed=True,
        status="claimed" if ticket.status == "open" else ticket.status,
    )
    await tx.tickets.event(ticket.id, event.sender, "handed_over", target)
    await tx.audit.log(event.sender, "ticket.hand_over", ticket=ticket.number, to=target)
    fresh = await tx.tickets.get(ticket.id)
    client = await tx.clients.get(ticket.client_id)
    tt = await notices.translator_for(tx, t, target)
    note = notices.to(notices.notice(tt, desk, fresh, client, why="handed"), target)  # type: ignore[arg-type]
    outs = [Outbound(t("desk.handed", label=label, advisor=target)), note]
    for told in {ticket.advisor, desk.staff_chat} - {None, event.sender, target}:
        tw = await notices.translator_for(tx, t, told)  # type: ignore[arg-type]
        text = tw(
            "desk.handed_from",
            label=Markup(notices.label(tw, ticket)),
            by=event.sender,
            advisor=target,
        )
        outs.append(Outbound(text, chat=told))
    return outs


def _replying(event: Inbound, ctx: dict[str, Any]) -> dict[str, Any] | None:
    """Desk members answering a relayed message with the platform's reply feature."""
    if event.kind == "text" and event.reply_to and _is_desk(ctx.get("roles", frozenset())):
        return {}
    return None


@router.add(Tier.STATE, _replying, DESK)
async def platform_reply(
    event: Inbound,
    t: Translator,
    tx: Tx,
    roles: frozenset[str],
    desk: DeskPolicy,
    message_id: int,
    fsm: StateControl,
) -> Outbound | list[Outbound] | None:
    """The quoted ticket wins over a pending reply button: the advisor has moved on."""
    ticket = await workflow.ticket_of_message(tx, event.chat, event.reply_to or "")
    if ticket is None:
        if fsm.name in PENDING:  # quoting something else while a reply button waits
            return await desk_text(
                event, t, fsm, tx, roles, desk, dict(fsm.current.data), message_id
            )  # type: ignore[union-attr]
        if event.chat != event.sender:
            return None  # a quote among colleagues in a group is not for the bot
        return UNHANDLED  # not about a ticket: answered as any message would be (the FAQ)
    if fsm.name in PENDING:
        await fsm.clear()
    text = clean_input(event.text)
    if not text:
        return Outbound(t("desk.need_text"))
    return await reply(tx, desk, t, event, roles, ticket, text[:4000], message_id)


@router.state(*PENDING, roles=DESK)
async def desk_text(
    event: Inbound,
    t: Translator,
    fsm: StateControl,
    tx: Tx,
    roles: frozenset[str],
    desk: DeskPolicy,
    state_data: dict[str, Any],
    message_id: int,
) -> Outbound | list[Outbound]:
    name = fsm.name
    await fsm.clear()
    ticket = await tx.tickets.get(int(state_data.get("ticket", 0)))
    text = clean_input(event.text)
    if ticket is None:
        return Outbound(t("errors.stale_button"))
    try:
        pressed = datetime.fromisoformat(str(state_data.get("started")))
    except ValueError:
        pressed = None
    if pressed is None or tx.now() - pressed > timedelta(minutes=PENDING_MINUTES):
        return Outbound(t("desk.pending_expired", label=Markup(notices.label(t, ticket))))
    if not text:
        return Outbound(t("desk.need_text"))
    if name == "desk.reply":
        return await reply(tx, desk, t, event, roles, ticket, text[:4000], message_id)
    return await _resolve(tx, desk, t, event, roles, ticket, text[:4000])


async def _resolve(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    event: Inbound,
    roles: frozenset[str],
    ticket: Ticket,
    text: str,
) -> Outbound | list[Outbound]:
    refused = await _may_answer(tx, t, event, roles, ticket, text)
    if refused:
        return refused
    outs = await workflow.resolve(tx, desk, t, ticket, actor=event.sender, result=text)
    return [*outs, Outbound(t("desk.resolved_done", label=Markup(notices.label(t, ticket))))]


@router.command("reply", roles=DESK)
async def reply_command(
    event: Inbound,
    t: Translator,
    tx: Tx,
    roles: frozenset[str],
    desk: DeskPolicy,
    args: list[str],
    message_id: int,
) -> Outbound | list[Outbound]:
    """/reply TS-20261128-0007 text"""
    ticket = await _find(tx, args[0]) if args else None
    text = (
        clean_input(event.text.split(None, 2)[2])
        if len(args) >= 2 and len(event.text.split(None, 2)) == 3
        else ""
    )
    if ticket is None or not text:
        return Outbound(t("desk.reply_usage"))
    return await reply(tx, desk, t, event, roles, ticket, text[:4000], message_id)


@router.command("resolve", roles=DESK)
async def resolve_command(
    event: Inbound, t: Translator, tx: Tx, roles: frozenset[str], desk: DeskPolicy, args: list[str]
) -> Outbound | list[Outbound]:
    """/resolve TS-20261128-0007 what was done"""
    ticket = await _find(tx, args[0]) if args else None
    pieces = event.text.split(None, 2)
    text = clean_input(pieces[2]) if ticket is not None and len(pieces) == 3 else ""
    if ticket is None or not text:
        return Outbound(t("desk.resolve_usage"))
    return await _resolve(tx, desk, t, event, roles, ticket, text[:4000])


@router.command("ticket", roles=DESK)
async def show_ticket(t: Translator, tx: Tx, desk: DeskPolicy, args: list[str]) -> Outbound:
    ticket = await _find(tx, args[0]) if args else None
    if ticket is None:
        return Outbound(t("desk.ticket_usage"))
    client = await tx.clients.get(ticket.client_id)
    lines = [notices.notice(t, desk, ticket, client, why="show", to_staff=True).text]
    lines.append(t("desk.status_line", status=t(f"ticket.status_{ticket.status}")))
    if ticket.result:
        lines.append(t("desk.result_line", result=ticket.result))
    if ticket.rating:
        lines.append(
            t("desk.rating_line", stars="⭐" * ticket.rating, feedback=ticket.feedback or "")
        )
    lines.append(t("desk.history_title"))
    for step in await tx.tickets.history(ticket.id):
        lines.append(
            t(
                "desk.history_line",
                at=desk.local(step.at),
                actor=step.actor,
                action=t(f"desk.step_{step.action}"),
                text=(step.text or "")[:200],
            )
        )
    buttons = notices.desk_buttons(t, ticket) if ticket.active else []
    return Outbound("\n".join(lines), buttons=buttons)


@router.command("tickets")
async def list_tickets(
    event: Inbound,
    t: Translator,
    tx: Tx,
    client: Client,
    roles: frozenset[str],
    desk: DeskPolicy,
    args: list[str],
) -> Outbound:
    """Clients: their own tickets. Desk: /tickets open|mine|breached (default: mine, or open)."""
    own = await my_tickets(tx, t, client, desk)
    if not _is_desk(roles):
        if not own:
            return Outbound(t("ticket.none_yet"))
        # A rating not given yet is asked for again: the resolution notice is long gone.
        lines, scores = ratings.offer(t, (await ratings.waiting(tx, client))[0])
        text = "\n".join([t("ticket.my_title"), *own])
        if lines:
            text += "\n\n" + "\n".join(lines)
        return Outbound(text, buttons=scores)
    which = (args[0].lower() if args else "mine") if args or "advisor" in roles else "open"
    if which not in ("open", "mine", "breached"):
        return Outbound(t("desk.tickets_usage"))
    found = await tx.tickets.listing(
        advisor=event.sender if which == "mine" else None,
        breached_at=tx.now() if which == "breached" else None,
    )
    lines = [t(f"desk.list_{which}", n=len(found))]
    now = tx.now()
    for ticket in found:
        late = ticket.responded_at is None and ticket.due_at < now
        lines.append(
            t(
                "desk.list_line",
                label=Markup(notices.label(t, ticket)),
                status=t(f"ticket.status_{ticket.status}"),
                advisor=ticket.advisor or t("desk.nobody"),
                due=desk.local(ticket.due_at),
                late=Markup(t("desk.late") if late else ""),
            )
        )
    if own:
        lines += ["", t("ticket.my_title"), *own]
    return Outbound("\n".join(lines))


@router.command("duty", roles=("advisor",))
async def duty(
    event: Inbound, t: Translator, tx: Tx, args: list[str], desk: DeskPolicy
) -> Outbound | list[Outbound]:
    choice = args[0].lower() if args else ""
    if not await tx.advisors.is_advisor(event.sender):  # an admin passes role checks, not this
        return Outbound(t("desk.duty_advisors_only"))
    if choice in ("langs", "languages", "语言"):
        return await languages(event, t, tx, " ".join(args[1:]))
    if choice not in ("on", "off"):
        current = await tx.advisors.get(event.sender)
        state = t("desk.duty_on" if current and current.on_duty else "desk.duty_off")
        reads = (await tx.advisors.languages()).get(event.sender, [])
        langs = t("mood.langs_line", langs=_language_names(t, reads))
        return Outbound(f"{t('desk.duty_usage', state=state)}\n{langs}")
    await tx.advisors.save(event.sender, on_duty=choice == "on")
    await tx.audit.log(event.sender, f"duty.{choice}")
    done = Outbound(t(f"desk.duty_{choice}_now"))
    if choice == "off":
        return done
    # Tickets that came in while nobody was on duty are theirs now.
    outs = [done]
    for waiting in await tx.tickets.unassigned():
        await tx.tickets.update(waiting.id, advisor=event.sender)
        await tx.tickets.event(waiting.id, "system", "routed", event.sender)
        fresh = await tx.tickets.get(waiting.id)
        client = await tx.clients.get(waiting.client_id)
        outs.append(notices.to(notices.notice(t, desk, fresh, client, why="new"), event.sender))  # type: ignore[arg-type]
    return outs


def _language_names(t: Translator, languages: list[str]) -> str:
    return "、".join(t(f"mood.lang_{x}") for x in languages) or t("mood.langs_none")


async def languages(event: Inbound, t: Translator, tx: Tx, words: str) -> Outbound:
    """/duty langs 粤语,English: tickets written in those go to this advisor first;
    /duty langs 无 clears them, /duty langs alone shows them."""
    current = (await tx.advisors.languages()).get(event.sender, [])
    if not words.strip():
        return Outbound(t("mood.langs_usage", langs=_language_names(t, current)))
    found, unknown = ([], []) if fold(words).strip() in CLEAR else parse_languages(words)
    if unknown:
        return Outbound(t("mood.langs_unknown", words="、".join(unknown)))
    await tx.advisors.set_languages(event.sender, list(found))
    await tx.audit.log(event.sender, "duty.langs", languages=list(found))
    return Outbound(t("mood.langs_set", langs=_language_names(t, list(found))))


@router.command("sign", roles=("advisor",))
async def sign(event: Inbound, t: Translator, tx: Tx, args: list[str]) -> Outbound:
    """/sign 王磊 A0120611010001: replies are signed with the name and 执业编号."""
    if not args or len(args) > 2 or len(args[0]) > 50 or (len(args) == 2 and len(args[1]) > 40):
        return Outbound(t("desk.sign_usage"))
    name, license_no = args[0], args[1] if len(args) == 2 else None
    phrases = forbidden_in(" ".join(args))  # the signature goes on every reply
    if phrases:
        await tx.audit.log(
            event.sender, "advisor.sign_blocked", phrases=phrases, text=" ".join(args)
        )
        return Outbound(t("desk.blocked", phrases="、".join(phrases)))
    await tx.advisors.save(event.sender, display_name=name, license_no=license_no)
    await tx.audit.log(event.sender, "advisor.sign", name=name, license=license_no)
    if license_no is None:
        return Outbound(t("desk.signed_name_only", name=name))
    return Outbound(t("desk.signed", name=name, license=license_no))
