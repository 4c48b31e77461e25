"""A ticket's life: opening, relaying between client and desk, resolving. Every notice is an
`Outbound` written in the same transaction as the change it reports, so a crash can neither
lose nor double it."""

from __future__ import annotations

from bot.core.i18n import Markup, Translator
from bot.core.log_context import about_ticket
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.assignment import route
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.menus import main_menu
from handlers.shared.ticket_notices import announce, label, ref, translator_for
from storage.records import Client, Ticket
from storage.tx import Tx

PREFIX = {"complaint": "TS", "consult": "ZX"}  # of ticket numbers: TS-20261128-0007
TALK = "ticket.talk"  # the client's state while an advisor converses with them


async def ticket_of_message(tx: Tx, chat: str, platform_id: str) -> Ticket | None:
    """The ticket one of our messages in `chat` was about (a notice, a relayed message)."""
    message = await tx.messages.by_platform_id(chat, platform_id)
    ref = str((message.payload if message else {}).get("ref") or "")
    kind, _, raw = ref.partition(":")
    return await tx.tickets.get(int(raw)) if kind == "ticket" and raw.isdigit() else None


async def quoted_ticket(tx: Tx, event: Inbound, client: Client) -> Ticket | None:
    """The client's own open ticket whose relayed message they answered with the platform's
    reply feature, if that is what they did."""
    if not event.reply_to:
        return None
    ticket = await ticket_of_message(tx, event.chat, event.reply_to)
    if ticket is None or ticket.client_id != client.id or not ticket.active:
        return None
    return ticket


async def resume_talk(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    ticket: Ticket,
    client: Client,
    *,
    text: str,
    message_id: int,
) -> list[Outbound]:
    """A client quoting a relayed message: back in that ticket's conversation."""
    await tx.states.set(ticket.chat, TALK, {"ticket": ticket.id, "started": tx.now().isoformat()})
    return await relay_to_desk(tx, desk, t, ticket, client, text=text, message_id=message_id)


async def open_ticket(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    *,
    kind: str,
    client: Client,
    chat: str,
    actor: str,
    text: str,
    category: str | None = None,
    contact: str | None = None,
    unanswered_id: int | None = None,
) -> tuple[Ticket, list[Outbound]]:
    """Record the ticket, assign it at once and tell the advisor (and the staff chat)."""
    file = await tx.files.fields(client.id)
    vip = file is not None and file.tier == "vip"
    now = tx.now()
    number = await tx.tickets.next_number(PREFIX[kind], now.astimezone(desk.tz).strftime("%Y%m%d"))
    # An advisor filing a ticket of their own never gets it; one in Cantonese or English goes
    # to an advisor who reads it, when one is on duty.
    advisor = await route(tx, file.advisor if file else None, avoid=actor, text=text)
    ticket = await tx.tickets.create(
        actor=actor,
        number=number,
        kind=kind,
        client_id=client.id,
        chat=chat,
        text=text,
        category=category,
        contact=contact,
        vip=vip,
        advisor=advisor,
        unanswered_id=unanswered_id,
        due_at=desk.due(kind, vip, now),
        created_at=now,
        updated_at=now,
    )
    about_ticket(number)
    if advisor is not None:
        await tx.tickets.event(ticket.id, "system", "routed", advisor)
    await tx.audit.log(actor, "ticket.open", ticket=number, client_id=client.id, advisor=advisor)
    return ticket, await announce(tx, desk, t, ticket, client)


async def consultation(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    event: Inbound,
    client: Client,
    text: str,
    unanswered_id: int | None = None,
) -> list[Outbound]:
    """A question for a person (typed after /advisor, or the FAQ's "ask a person" button
    with the unanswered question): recorded as a consultation ticket and acknowledged."""
    ticket, outs = await open_ticket(
        tx,
        desk,
        t,
        kind="consult",
        client=client,
        chat=event.chat,
        actor=event.sender,
        text=text,
        unanswered_id=unanswered_id,
    )
    ack = t(
        "ticket.consult_ack", number=ticket.number, span=t.span(ticket.due_at - ticket.created_at)
    )
    return [Outbound(ack, buttons=main_menu(t)), *outs]


def acknowledgement(t: Translator, ticket: Ticket) -> Outbound:
    """What the client is told: the number, and when (and whether someone already has it)."""
    queued = "_queued" if ticket.advisor is None else ""
    key = f"ticket.{'complaint' if ticket.kind == 'complaint' else 'consult'}_ack{queued}"
    text = t(key, number=ticket.number, span=t.span(ticket.due_at - ticket.created_at))
    return Outbound(text, buttons=main_menu(t))


async def relay_to_client(
    tx: Tx, t: Translator, ticket: Ticket, *, advisor: str, text: str, message_id: int
) -> list[Outbound]:
    """An advisor's words, signed, to the client on the client's own channel; the client's
    next messages go back to the ticket."""
    about_ticket(ticket.number)  # its log lines name the ticket
    client = await tx.clients.get(ticket.client_id)
    tc = t.with_lang(client.language if client else "zh")
    profile = await tx.advisors.get(advisor)
    if profile and profile.display_name and profile.license_no:
        signature = tc(
            "ticket.signed_licensed", name=profile.display_name, license=profile.license_no
        )
    elif profile and profile.display_name:
        signature = tc("ticket.signed", name=profile.display_name)
    else:
        signature = tc("ticket.signed_anonymous")
    now = tx.now()
    await tx.tickets.update(
        ticket.id,
        status="waiting",
        advisor=ticket.advisor or advisor,
        claimed=True,
        responded_at=ticket.responded_at or now,
    )
    await tx.tickets.event(ticket.id, advisor, "reply", text, message_id)
    await _client_state(tx, ticket, TALK)
    body = tc(
        "ticket.from_advisor",
        signature=Markup(signature),
        label=Markup(label(tc, ticket)),
        text=text,
    )
    return [Outbound(body, chat=ticket.chat, ref=ref(ticket))]


async def answered_in_app(
    tx: Tx, ticket: Ticket, *, advisor: str, text: str, message_id: int
) -> None:
    """An advisor answered the client themselves, on the platform (WeCom's app): the ticket
    is answered as if through the bot, with nothing more sent."""
    about_ticket(ticket.number)  # its log lines name the ticket
    await tx.tickets.update(
        ticket.id,
        status="waiting",
        advisor=ticket.advisor or advisor,
        claimed=True,
        responded_at=ticket.responded_at or tx.now(),
    )
    await tx.tickets.event(ticket.id, advisor, "reply", text, message_id)


async def _client_state(tx: Tx, ticket: Ticket, state: str | None) -> None:
    """Start or end the client's conversation with the desk (their chat's state). A form the
    client is filling in (a new complaint, say) is never cut short by it."""
    current = await tx.states.get(ticket.chat)
    if state is not None:
        if current is None or current.state == TALK:
            await tx.states.set(
                ticket.chat, state, {"ticket": ticket.id, "started": tx.now().isoformat()}
            )
        return
    if current is not None and current.state == TALK and current.data.get("ticket") == ticket.id:
        await tx.states.clear(ticket.chat)


async def relay_to_desk(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    ticket: Ticket,
    client: Client,
    *,
    text: str,
    message_id: int,
) -> list[Outbound]:
    """The client's words added to the ticket and passed to whoever holds it."""
    about_ticket(ticket.number)  # its log lines name the ticket
    await tx.tickets.event(ticket.id, ticket.chat, "client", text, message_id)
    if ticket.status == "waiting":
        await tx.tickets.update(ticket.id, status="claimed")
    targets = [ticket.advisor] if ticket.advisor else ([desk.staff_chat] if desk.staff_chat else [])
    outs = []
    for target in targets:
        tt = await translator_for(tx, t, target)
        body = tt(
            "desk.client_says",
            label=Markup(label(tt, ticket)),
            name=client.display_name or ticket.chat,
            text=text,
        )
        buttons = [
            [
                Button(tt("desk.reply"), f"tk:r:{ticket.id}"),
                Button(tt("desk.resolve"), f"tk:s:{ticket.id}"),
            ]
        ]
        outs.append(Outbound(body, chat=target, buttons=buttons, ref=ref(ticket)))
    return outs


async def resolve(
    tx: Tx, desk: DeskPolicy, t: Translator, ticket: Ticket, *, actor: str, result: str
) -> list[Outbound]:
    about_ticket(ticket.number)  # its log lines name the ticket
    now = tx.now()
    await tx.tickets.update(
        ticket.id,
        status="resolved",
        result=result,
        resolved_at=now,
        responded_at=ticket.responded_at or now,
    )
    await tx.tickets.event(ticket.id, actor, "resolved", result)
    await tx.audit.log(actor, "ticket.resolve", ticket=ticket.number)
    await _client_state(tx, ticket, None)
    client = await tx.clients.get(ticket.client_id)
    tc = t.with_lang(client.language if client else "zh")
    stars = [Button(f"{n}⭐", f"tkc:rate:{ticket.id}:{n}") for n in range(1, 6)]
    buttons = [stars, [Button(tc("ticket.reopen"), f"tkc:reopen:{ticket.id}")]]
    body = tc(
        "ticket.resolved", label=Markup(label(tc, ticket)), result=result, days=desk.reopen_days
    )
    notice = Outbound(body, chat=ticket.chat, buttons=buttons, ref=ref(ticket), lang=tc.lang)
    notice.ends_session = True  # a person served the client: the bot takes over again
    return [notice]
