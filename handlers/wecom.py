"""Advisors' WeCom user ids (客户联系): `/wecom me USERID` by the advisor, `/wecom ADDRESS
USERID` by staff for them. A client who adds that WeCom user as a contact becomes the
advisor's client."""

from __future__ import annotations

import re

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound, normalize_address
from storage.tx import Tx

router = Router("wecom")

USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
STAFF = ("advisor", "staff", "admin")


@router.command("wecom", roles=STAFF)
async def wecom(
    event: Inbound, t: Translator, tx: Tx, args: list[str], roles: frozenset[str]
) -> Outbound:
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
