"""A client's own channels: /bind gives a code, "绑定 123456" from another channel joins that
address to the same client file ("绑定 手机号" sends the code by SMS to the phone on file),
and /channel chooses where pushes go."""

from __future__ import annotations

import re

from bot.core.i18n import Translator
from bot.core.middlewares import Policy
from bot.core.phones import mobile
from bot.core.router import UNHANDLED, Router
from bot.core.types import Button, Inbound, Outbound
from broadcasts.reach import channel_name
from handlers.shared.menus import main_menu
from handlers.shared.privacy import private_only
from handlers.shared.sms_consent import masked
from storage.records import Client, Identity
from storage.repos.linking import CODE_TTL
from storage.tx import Tx

router = Router("linking")

CODE = re.compile(r"\d{6}")
AUTO_WORDS = {"auto", "自动", "默认", "default"}


@router.command("bind")
async def bind_command(
    event: Inbound, tx: Tx, client: Client, t: Translator, args: list[str], policy: Policy
) -> Outbound | list[Outbound]:
    return await _bind(event, tx, client, t, " ".join(args), policy)


@router.keyword("绑定", "绑定账号", "绑定渠道", "bind")
async def bind_word(
    event: Inbound, tx: Tx, client: Client, t: Translator, rest: str, policy: Policy
) -> Outbound | object:
    code = rest.replace(" ", "")
    if code and not CODE.fullmatch(code) and mobile(code) is None:
        return UNHANDLED  # "绑定银行卡怎么操作" is a question, not a code
    return await _bind(event, tx, client, t, code, policy)


async def _bind(
    event: Inbound, tx: Tx, client: Client, t: Translator, code: str, policy: Policy
) -> Outbound | list[Outbound]:
    if refusal := private_only(event, t):
        return refusal
    code = code.strip()
    if (phone := mobile(code)) is not None and tx.sms_policy is not None:
        return await _code_by_sms(event, tx, client, t, phone)
    if not code:
        issued = await tx.links.issue(client.id, event.chat)
        await tx.audit.log(event.chat, "client.bind_code", client_id=client.id)
        minutes = int(CODE_TTL.total_seconds() // 60)
        return Outbound(t("bind.code", code=issued, minutes=minutes))
    if not CODE.fullmatch(code):
        return Outbound(t("bind.usage"))
    done = await tx.links.redeem(code, event.chat)
    if done.status == "locked" and done.until is not None:
        until = done.until.astimezone(policy.tz).strftime("%H:%M")
        return Outbound(t("bind.locked", until=until))
    if done.status == "wrong":
        return Outbound(t("bind.wrong", left=done.left))
    if done.status == "same":
        return Outbound(t("bind.same"), buttons=main_menu(t))
    merged = done.merged
    await tx.audit.log(
        event.chat, "client.bind", client_id=done.client_id, address=event.chat,
        merged=merged.gone if merged else None,
    )  # fmt: skip
    assert done.client_id is not None
    names = await _channel_names(tx, t, done.client_id)
    return Outbound(t("bind.linked", channels=names), buttons=main_menu(t))


async def _code_by_sms(
    event: Inbound, tx: Tx, client: Client, t: Translator, phone: str
) -> Outbound | list[Outbound]:
    """ "绑定 13912345678": the code goes by SMS to the phone on file, so only its owner can
    join this address to that file. The answer is the same whether the number is on file or
    not (nobody learns who is a client); the texts count against the number's SMS caps."""
    address = f"sms:{phone}"
    owner = await tx.clients.by_address(address)
    minutes = int(CODE_TTL.total_seconds() // 60)
    said = Outbound(t("bind.sms_sent", phone=masked(phone), minutes=minutes))
    if owner is None or owner.erased_at is not None:
        return said
    if owner.id == client.id:
        return Outbound(t("bind.same"), buttons=main_menu(t))
    issued = await tx.links.issue(owner.id, address)
    await tx.audit.log(event.chat, "client.bind_code_sms", client_id=owner.id)
    text = t.with_lang("zh")("bind.sms_code", code=issued, minutes=minutes)
    return [said, Outbound(text, chat=address, ref=f"bind:{owner.id}")]


async def _channel_names(tx: Tx, t: Translator, client_id: int) -> str:
    seen = await tx.clients.identities(client_id)
    return t("common.list_separator").join(sorted({channel_name(t, i.channel) for i in seen}))


@router.command("channel", "channels")
async def channel(
    event: Inbound, tx: Tx, client: Client, t: Translator, args: list[str]
) -> Outbound:
    return await _channel_choice(event, tx, client, t, " ".join(args))


@router.keyword("接收渠道", "通知渠道", "我的渠道", "my channels", exact=True)
async def channel_word(event: Inbound, tx: Tx, client: Client, t: Translator) -> Outbound:
    return await _channel_choice(event, tx, client, t, "")


@router.callback("ch")
async def channel_button(
    event: Inbound, tx: Tx, client: Client, t: Translator, data: str
) -> Outbound:
    return await _channel_choice(event, tx, client, t, data)


async def _channel_choice(
    event: Inbound, tx: Tx, client: Client, t: Translator, wanted: str
) -> Outbound:
    """Show the client's addresses and where pushes go; with a choice (a number from the
    list, a channel's name, or "自动"), set it."""
    if refusal := private_only(event, t):
        return refusal
    mine = sorted(await tx.clients.identities(client.id), key=lambda i: i.address)
    wanted = wanted.strip().lower()
    if wanted:
        if wanted in AUTO_WORDS:
            chosen: Identity | None = None
        else:
            chosen = _pick(t, mine, wanted)
            if chosen is None:
                return _listing(t, mine, await tx.files.preferred(client.id), t("channel.unknown"))
        await tx.files.set(client.id, preferred=chosen.address if chosen else None)
        await tx.audit.log(
            event.chat, "client.preferred", client_id=client.id,
            address=chosen.address if chosen else None,
        )  # fmt: skip
        said = t("channel.set", channel=_label(t, chosen)) if chosen else t("channel.set_auto")
        return Outbound(said, buttons=main_menu(t))
    return _listing(t, mine, await tx.files.preferred(client.id))


def _pick(t: Translator, mine: list[Identity], wanted: str) -> Identity | None:
    if wanted.isdigit() and 1 <= int(wanted) <= len(mine):
        return mine[int(wanted) - 1]
    by_name = [
        i for i in mine if wanted in (i.channel, channel_name(t, i.channel).lower(), i.address)
    ]
    return by_name[0] if len(by_name) == 1 else None


def _label(t: Translator, identity: Identity) -> str:
    return f"{channel_name(t, identity.channel)} ({identity.address.split(':', 1)[1][-6:]})"


def _listing(
    t: Translator, mine: list[Identity], preferred: str | None, lead: str | None = None
) -> Outbound:
    now = next((i for i in mine if i.address == preferred), None)
    lines = [lead] if lead else []
    lines.append(t("channel.now", channel=_label(t, now)) if now else t("channel.now_auto"))
    lines.append(t("channel.hint_bind"))
    buttons = [[Button(_label(t, i), f"ch:{n}")] for n, i in enumerate(mine, start=1)]
    buttons.append([Button(t("channel.auto"), "ch:auto")])
    return Outbound("\n".join(lines), buttons=buttons)
