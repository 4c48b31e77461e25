"""The client file (客户档案) for staff and advisors: /client ADDRESS_OR_ID [action …]."""

from __future__ import annotations

import re

from bot.core.i18n import Translator
from bot.core.mailboxes import email_address
from bot.core.phones import mobile
from bot.core.router import Router
from bot.core.types import Inbound, Outbound, normalize_address
from handlers.shared.client_lookup import find_client
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.merging import merge_files
from handlers.shared.sms_consent import consent_line
from storage.records import Client
from storage.repos.client_files import TIERS
from storage.tx import Tx

router = Router("clients")

TAG = re.compile(r"[\w\u4e00-\u9fff-]{1,50}")


@router.command("client", roles=("advisor", "staff"))
async def client_file(
    event: Inbound, tx: Tx, t: Translator, args: list[str], desk: DeskPolicy
) -> Outbound:
    if args and args[0].lower() == "merge":
        return await _merge(event, tx, t, args[1:])
    client = await find_client(tx, args[0]) if args else None
    if client is None or client.erased_at is not None:
        return Outbound(
            t("clientfile.usage") if not args else t("clientfile.unknown", who=args[0][:60])
        )
    if len(args) == 1:
        return Outbound(await _show(tx, t, client, desk))
    action, rest = args[1].lower(), args[2:]
    who = event.sender
    if action == "assign" and len(rest) == 1:
        try:
            advisor = normalize_address(rest[0])
        except ValueError:
            return Outbound(t("clientfile.not_an_advisor", address=rest[0][:60]))
        if not await tx.advisors.is_advisor(advisor):
            return Outbound(t("clientfile.not_an_advisor", address=advisor))
        await tx.files.set(client.id, advisor=advisor)
        await tx.audit.log(who, "client.assign", client_id=client.id, advisor=advisor)
        return Outbound(t("clientfile.assigned", id=client.id, advisor=advisor))
    if action == "tier" and len(rest) == 1 and rest[0].lower() in TIERS:
        tier = rest[0].lower()
        await tx.files.set(client.id, tier=tier)
        await tx.audit.log(who, "client.tier", client_id=client.id, tier=tier)
        for open_ticket in [tk for tk in await tx.tickets.of_client(client.id) if tk.active]:
            due = desk.due(open_ticket.kind, tier == "vip", open_ticket.created_at)
            await tx.tickets.update(open_ticket.id, vip=tier == "vip", due_at=due)
        return Outbound(
            t("clientfile.tier_set", id=client.id, tier=t(f"clientfile.tier_{rest[0].lower()}"))
        )
    if (
        action == "tag"
        and len(rest) == 2
        and rest[0].lower() in ("add", "del")
        and TAG.fullmatch(rest[1])
    ):
        tag = rest[1]
        if rest[0].lower() == "add":
            changed = await tx.files.add_tag(client.id, tag)
        else:
            changed = await tx.files.del_tag(client.id, tag)
        if changed:
            await tx.audit.log(who, f"client.tag_{rest[0].lower()}", client_id=client.id, tag=tag)
        return Outbound(t(f"clientfile.tag_{rest[0].lower()}", id=client.id, tag=tag))
    if action == "phone" and len(rest) == 1:
        phone = mobile(rest[0])
        if phone is None:
            return Outbound(t("ticket.phone_invalid"))
        await tx.files.set(client.id, phone=phone)
        await tx.audit.log(who, "client.phone", client_id=client.id)
        return Outbound(t("clientfile.phone_set", id=client.id))
    if action == "email" and len(rest) == 1:
        return await _email(event, tx, t, client, rest[0])
    if action in ("link", "unlink", "channel") and len(rest) == 1:
        return await _addresses(event, tx, t, client, action, rest[0])
    if action == "note" and rest:
        text = (
            event.text.split(None, 3)[3].strip()[:2000]
            if len(event.text.split(None, 3)) == 4
            else ""
        )
        if not text:
            return Outbound(t("clientfile.usage"))
        await tx.files.add_note(client.id, who, text)
        await tx.audit.log(who, "client.note", client_id=client.id)
        return Outbound(t("clientfile.noted", id=client.id))
    return Outbound(t("clientfile.usage"))


async def _email(event: Inbound, tx: Tx, t: Translator, client: Client, given: str) -> Outbound:
    """Where documents for the client go by e-mail (`none` takes it off)."""
    address = None if given.lower() == "none" else email_address(given)
    if address is None and given.lower() != "none":
        return Outbound(t("mail.email_invalid", email=given[:60]))
    await tx.files.set(client.id, email=address)
    await tx.audit.log(event.sender, "client.email", client_id=client.id)
    if address is None:
        return Outbound(t("mail.email_cleared", id=client.id))
    return Outbound(t("mail.email_set", id=client.id, email=address))


async def _addresses(
    event: Inbound, tx: Tx, t: Translator, client: Client, action: str, given: str
) -> Outbound:
    """Link an address to the file, take one off, or choose where pushes go ("auto": the
    client's most recent reachable address)."""
    if action == "channel" and given.lower() == "auto":
        await tx.files.set(client.id, preferred=None)
        await tx.audit.log(event.sender, "client.preferred", client_id=client.id, address=None)
        return Outbound(t("clientfile.channel_auto", id=client.id))
    try:
        address = normalize_address(given)
    except ValueError:
        return Outbound(t("clientfile.bad_address", address=given[:60]))
    if action == "channel":
        owner = await tx.clients.by_address(address)
        if owner is None or owner.id != client.id:
            return Outbound(t("clientfile.not_theirs", id=client.id, address=address))
        await tx.files.set(client.id, preferred=address)
        await tx.audit.log(event.sender, "client.preferred", client_id=client.id, address=address)
        return Outbound(t("clientfile.channel_set", id=client.id, address=address))
    if action == "link":
        status = await tx.links.attach(client.id, address)
        if status == "taken":
            other = await tx.clients.by_address(address)
            other_id = other.id if other else "?"
            return Outbound(
                t("clientfile.link_taken", id=client.id, address=address, other=other_id)
            )
    else:
        status = await tx.links.detach(client.id, address)
        if status == "not_theirs":
            return Outbound(t("clientfile.not_theirs", id=client.id, address=address))
    if status in ("linked", "unlinked"):
        await tx.audit.log(event.sender, f"client.{action}", client_id=client.id, address=address)
    return Outbound(t(f"clientfile.{status}", id=client.id, address=address))


async def _merge(event: Inbound, tx: Tx, t: Translator, args: list[str]) -> Outbound:
    """/client merge ID ID: two files that are one person become one (the older survives)."""
    if len(args) != 2:
        return Outbound(t("clientfile.merge_usage"))
    first, second = await find_client(tx, args[0]), await find_client(tx, args[1])
    for found, given in ((first, args[0]), (second, args[1])):
        if found is None or found.erased_at is not None:
            return Outbound(t("clientfile.unknown", who=given[:60]))
    assert first is not None and second is not None
    if first.id == second.id:
        return Outbound(t("clientfile.merge_same", id=first.id))
    _, text = await merge_files(tx, t, event.sender, first.id, second.id)
    return Outbound(text)


async def _show(tx: Tx, t: Translator, client: Client, desk: DeskPolicy) -> str:
    file = await tx.files.get(client)
    open_tickets = [tk for tk in await tx.tickets.of_client(client.id, limit=50) if tk.active]
    preferred = await tx.files.preferred(client.id)
    lines = [
        t("clientfile.title", id=client.id, name=client.display_name or "-"),
        t("clientfile.identities", addresses=", ".join(i.address for i in file.identities) or "-"),
        t("clientfile.preferred", address=preferred or t("clientfile.auto")),
        t("clientfile.tier", tier=t(f"clientfile.tier_{file.tier}")),
        t("clientfile.advisor", advisor=file.advisor or "-"),
        t("clientfile.phone", phone=file.phone or "-"),
        t("mail.client_email", email=file.email or "-"),
        consent_line(t, file.sms, desk),
        t("clientfile.tags", tags=", ".join(file.tags) or "-"),
        t("clientfile.subscriptions", topics=", ".join(file.subscriptions) or "-"),
        t("clientfile.open_tickets", tickets=", ".join(tk.number for tk in open_tickets) or "-"),
        t(
            "clientfile.last_contact",
            at=desk.local(file.last_contact) if file.last_contact else "-",
        ),
    ]
    for wave, score, said, _at in await tx.return_visits.of(client.id):
        lines.append(
            t(
                "clientfile.visit",
                days=wave,
                score=f"{score}⭐" if score else t("clientfile.no_answer"),
                comment=said or "",
            )
        )
    for at, author, text in file.notes:
        lines.append(t("clientfile.note_line", at=desk.local(at), author=author, text=text))
    return "\n".join(lines)
