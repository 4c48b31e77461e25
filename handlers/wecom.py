"""Advisors' WeCom user ids (客户联系): `/wecom me USERID` by the advisor, `/wecom ADDRESS
USERID` by staff for them. A client who adds that WeCom user as a contact becomes the
advisor's client; one with no file found is asked about (`/wecom new`)."""

from __future__ import annotations

import re
from typing import Any

from bot.core.i18n import Translator
from bot.core.phones import mobile
from bot.core.router import UNHANDLED, Router, Tier
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound, normalize_address
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.merging import merge_files
from storage.records import Client, WecomQuestion
from storage.tx import Tx

router = Router("wecom")

USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
STAFF = ("advisor", "staff", "admin")


@router.command("wecom", roles=STAFF)
async def wecom(
    event: Inbound, t: Translator, tx: Tx, args: list[str], roles: frozenset[str]
) -> Outbound:
    if len(args) == 1 and args[0].lower() in ("new", "新客户"):
        return await open_questions(event, tx, t)
    if len(args) != 2:
        current = await tx.advisors.get(event.sender)
        linked = current.wecom_userid if current and current.wecom_userid else t("wecom.none")
        return Outbound(t("wecom.usage", userid=linked))
    who, userid = args
    if not USERID.fullmatch(userid):
        return Outbound(t("wecom.bad_userid"))
    if who.lower() in ("me", "我"):
        address = event.sender
    elif not roles & {"staff", "admin"}:
        return Outbound(t("wecom.only_own"))
    else:
        try:
            address = normalize_address(who)
        except ValueError:
            return Outbound(t("wecom.bad_address", address=who[:60]))
    if not await tx.advisors.is_advisor(address):
        return Outbound(t("wecom.not_advisor", address=address))
    before = await tx.advisors.link_wecom(address, userid)
    await tx.audit.log(event.sender, "wecom.link", advisor=address, userid=userid, before=before)
    text = t("wecom.linked", address=address, userid=userid)
    if before:
        text += "\n" + t("wecom.taken_from", address=before)
    return Outbound(text)


# ---- who is this new contact? ----------------------------------------------------------------
# A client who adds an advisor in WeCom and whose file was not found (no binding code in the
# link, no phone the advisor noted) gets a file of their own; the advisor is asked whether it
# is someone they have: one of the clients on file named as WeCom names the contact, a phone
# number or file number typed, or "a new client". Asked again by /wecom new until answered.

ADVISOR = ("advisor",)
ANSWER = "wcq"
FILE_NUMBER = re.compile(r"#\s*(\d{1,9})")


def _contact_event(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    return {} if event.kind == "contact" else None


@router.add(Tier.CALLBACK, _contact_event, ())
async def new_contact(event: Inbound, tx: Tx, t: Translator, desk: DeskPolicy) -> Outbound | None:
    """A client added an advisor (the channel did the file work): ask the advisor if asked
    to; a WeCom member no advisor is linked to is for staff to link. Always taken here: the
    event is no message to answer in the client's chat."""
    client = await tx.clients.by_address(event.chat)
    asked = await tx.wecom_questions.get(client.id) if client else None
    if asked is not None and asked.answered_at is None:
        return await _question(tx, await _their_t(tx, t, asked.advisor), asked)
    userid = event.args[0] if event.args else ""
    if client is None or not userid or not desk.staff_chat:
        return None
    if await tx.advisors.by_wecom(userid) is not None:
        return None
    told = await _their_t(tx, t, desk.staff_chat)
    text = told("wecom.member_unlinked", userid=userid, chat=event.chat, id=client.id)
    return Outbound(text, chat=desk.staff_chat, lang=told.lang)


async def _their_t(tx: Tx, t: Translator, who: str) -> Translator:
    person = await tx.clients.by_address(who)
    return t.with_lang(person.language) if person and person.language else t


async def _question(tx: Tx, t: Translator, asked: WecomQuestion, more: int = 0) -> Outbound:
    client = await tx.clients.get(asked.client_id)
    shown = (client.display_name if client else None) or asked.name or asked.chat
    names = [asked.name or "", (client.display_name or "") if client else ""]
    found = await tx.wecom_questions.candidates(asked.advisor, names, exclude=asked.client_id)
    key = "wecom.ask_who_among" if found else "wecom.ask_who"
    text = t(key, name=shown, chat=asked.chat, id=asked.client_id)
    if more:
        text += "\n" + t("wecom.more_open", count=more)
    buttons = [
        [Button(_candidate(t, other, phone), data=f"{ANSWER}:{asked.client_id}:{other.id}")]
        for other, phone in found
    ]
    buttons.append([Button(t("wecom.ask_new"), data=f"{ANSWER}:{asked.client_id}:new")])
    return Outbound(
        text, chat=asked.advisor, buttons=buttons, ref=f"client:{asked.client_id}", lang=t.lang
    )


def _candidate(t: Translator, client: Client, phone: str | None) -> str:
    label = f"{client.display_name or '-'} #{client.id}"
    return label + (t("wecom.phone_tail", tail=phone[-4:]) if phone else "")


@router.callback(ANSWER, roles=STAFF)
async def answered_by_button(
    event: Inbound, data: str, tx: Tx, t: Translator, roles: frozenset[str]
) -> Outbound | list[Outbound]:
    raw_id, _, choice = data.partition(":")
    known = raw_id.isdigit() and len(raw_id) <= 9
    asked = await tx.wecom_questions.get(int(raw_id)) if known else None
    if asked is None:
        return Outbound(t("errors.stale_button"))
    if choice == "new":
        return await _answer(event, tx, t, roles, asked, None)
    if not choice.isdigit() or len(choice) > 9:
        return Outbound(t("errors.stale_button"))
    return await _answer(event, tx, t, roles, asked, int(choice))


def _typed_answer(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    if event.kind != "text":
        return None
    text = clean_input(event.text)
    number = FILE_NUMBER.fullmatch(text)
    if number:
        return {"file_number": int(number.group(1)), "phone": None}
    phone = mobile(text)
    return {"file_number": None, "phone": phone} if phone else None


@router.add(Tier.KEYWORD, _typed_answer, ADVISOR)
async def answered_by_typing(
    event: Inbound,
    tx: Tx,
    t: Translator,
    roles: frozenset[str],
    file_number: int | None,
    phone: str | None,
) -> Outbound | list[Outbound]:
    """A phone number or "#12" typed by an advisor with an open question answers the newest
    one; anything else (or no question) is not for this feature."""
    open_ones = await tx.wecom_questions.open_for(event.sender)
    if not open_ones:
        return UNHANDLED
    asked = open_ones[0]
    if file_number is not None:
        return await _answer(event, tx, t, roles, asked, file_number)
    found = await tx.files.with_phone(phone or "")
    found = [c for c in found if c != asked.client_id]
    if len(found) != 1:
        key = "wecom.phone_many" if found else "wecom.phone_none"
        ids = ", ".join(f"#{c}" for c in found[:10])
        return Outbound(t(key, phone=phone, ids=ids, id=asked.client_id))
    return await _answer(event, tx, t, roles, asked, found[0])


async def _answer(
    event: Inbound,
    tx: Tx,
    t: Translator,
    roles: frozenset[str],
    asked: WecomQuestion,
    other: int | None,
) -> Outbound | list[Outbound]:
    """Keep the contact's file as a new client (`other` None) or merge it into `other`."""
    if asked.advisor != event.sender and not roles & {"staff", "admin"}:
        return Outbound(t("wecom.not_yours", advisor=asked.advisor))
    if asked.answered_at is not None:
        return Outbound(t("wecom.answered_before", id=asked.client_id))
    mine = await tx.clients.get(asked.client_id)
    if mine is None or mine.erased_at is not None:  # merged or erased meanwhile
        return Outbound(t("wecom.file_gone", id=asked.client_id))
    target = await tx.clients.get(other) if other is not None else None
    if other is not None and (
        target is None or target.erased_at is not None or target.id == mine.id
    ):
        return Outbound(t("wecom.no_file", id=other))
    # Claimed before the merge: a second press (or process) finds it answered, merges nothing.
    kept = min((mine.created_at, mine.id), (target.created_at, target.id))[1] if target else None
    answer = f"merged:{kept}" if target else "new"
    if not await tx.wecom_questions.answer(asked.client_id, answer):
        return Outbound(t("wecom.answered_before", id=asked.client_id))
    if target is None:
        text = t("wecom.kept_new", id=asked.client_id)
    else:
        _, text = await merge_files(tx, t, event.sender, target.id, asked.client_id)
    await tx.audit.log(
        event.sender, "wecom.contact_answer", client_id=asked.client_id, answer=answer
    )
    outs = [Outbound(text)]
    rest = await tx.wecom_questions.open_for(asked.advisor)
    if rest and asked.advisor == event.sender:  # the next one, so a queue is worked through
        outs.append(await _question(tx, t, rest[0], more=len(rest) - 1))
    return outs


async def open_questions(event: Inbound, tx: Tx, t: Translator) -> Outbound:
    """/wecom new: the newest open question again, with how many more wait."""
    open_ones = await tx.wecom_questions.open_for(event.sender)
    if not open_ones:
        return Outbound(t("wecom.none_open"))
    return await _question(tx, t, open_ones[0], more=len(open_ones) - 1)
