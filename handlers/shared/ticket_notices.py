"""How a ticket is announced to the desk: its label, the notice with the desk's buttons, and
whom it goes to. Shared: the tickets feature, the admin (an advisor's tickets requeued) and the
profile (an erased client's tickets) all tell advisors about tickets the same way."""

from __future__ import annotations

from bot.core.i18n import Markup, Translator
from bot.core.types import Button, Outbound
from handlers.shared.desk_policy import DeskPolicy
from storage.records import Client, Ticket
from storage.tx import Tx

VIP_PRIORITY = 5  # a VIP client's notices go out ahead of others waiting


def ref(ticket: Ticket) -> str:
    return f"ticket:{ticket.id}"


async def translator_for(tx: Tx, t: Translator, address: str) -> Translator:
    """`t` in the language of the person at `address` (Chinese for strangers and groups)."""
    person = await tx.clients.by_address(address)
    return t.with_lang(person.language if person else "zh")


def label(t: Translator, ticket: Ticket) -> str:
    """ "⭐VIP 投诉 TS-20261128-0007" """
    vip = t("desk.vip") if ticket.vip else ""
    return t(
        "desk.label", vip=Markup(vip), kind=t(f"ticket.kind_{ticket.kind}"), number=ticket.number
    )


async def announce(
    tx: Tx,
    desk: DeskPolicy,
    t: Translator,
    ticket: Ticket,
    client: Client | None,
    *,
    why: str = "new",
) -> list[Outbound]:
    """The notice with the desk buttons, to the ticket's advisor and to the staff chat."""
    outs = []
    targets = [ticket.advisor] if ticket.advisor else []
    if desk.staff_chat and desk.staff_chat not in targets:
        targets.append(desk.staff_chat)
    if not targets:  # nobody on duty and no staff chat: the admins must know
        targets = list(desk.admins)
    for target in targets:
        tt = await translator_for(tx, t, target)
        outs.append(
            to(notice(tt, desk, ticket, client, why=why, to_staff=target != ticket.advisor), target)
        )
    return outs


def notice(
    t: Translator,
    desk: DeskPolicy,
    ticket: Ticket,
    client: Client | None,
    *,
    why: str,
    to_staff: bool = False,
) -> Outbound:
    lines = [
        t(f"desk.why_{why}", label=Markup(label(t, ticket))),
        t(
            "desk.client_line",
            name=(client.display_name if client else None) or ticket.chat,
            chat=ticket.chat,
        ),
    ]
    if ticket.category:
        lines.append(t("desk.category_line", category=t(f"ticket.cat_{ticket.category}")))
    if ticket.contact:
        lines.append(t("desk.contact_line", phone=ticket.contact))
    lines.append(t("desk.text_line", text=ticket.text))
    lines.append(t("desk.due_line", due=desk.local(ticket.due_at)))
    if to_staff:
        who = ticket.advisor or t("desk.nobody")
        lines.append(t("desk.assigned_line", advisor=who))
    return Outbound(
        "\n".join(lines),
        buttons=desk_buttons(t, ticket),
        priority=VIP_PRIORITY if ticket.vip else 0,
        ref=ref(ticket),
    )


def desk_buttons(t: Translator, ticket: Ticket) -> list[list[Button]]:
    return [
        [
            Button(t("desk.claim"), f"tk:c:{ticket.id}"),
            Button(t("desk.reply"), f"tk:r:{ticket.id}"),
        ],
        [
            Button(t("desk.resolve"), f"tk:s:{ticket.id}"),
            Button(t("desk.hand_over"), f"tk:h:{ticket.id}"),
        ],
    ]


def to(out: Outbound, chat: str) -> Outbound:
    out.chat = chat
    return out


async def erased_notices(tx: Tx, t: Translator, held: list[Ticket]) -> list[Outbound]:
    """The advisors of an erased client's open tickets are told they are closed."""
    outs = []
    for ticket in held:
        if ticket.advisor:
            tt = await translator_for(tx, t, ticket.advisor)
            text = tt("desk.client_erased", label=Markup(label(tt, ticket)))
            outs.append(Outbound(text, chat=ticket.advisor))
    return outs
