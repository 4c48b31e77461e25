"""What the firm keeps about a client: language, profile, and erasure on request (PIPL art. 47)."""

from __future__ import annotations

from bot.core.i18n import LANGUAGES, Translator
from bot.core.middlewares import Policy
from bot.core.router import Router
from bot.core.state import StateControl
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.menus import main_menu
from handlers.shared.privacy import private_only
from handlers.shared.ticket_notices import erased_notices
from storage.records import Client
from storage.tx import Tx

router = Router("profile")

CONFIRM_WORDS = {"确认删除", "确认", "是", "yes", "delete", "confirm"}


def _language_buttons() -> list[list[Button]]:
    return [[Button("中文", "lang:zh"), Button("English", "lang:en")]]


async def _set_language(tx: Tx, client: Client, t: Translator, lang: str) -> Outbound:
    await tx.clients.set_language(client.id, lang)
    t = t.with_lang(lang)
    return Outbound(t("lang.changed"), buttons=main_menu(t))


@router.command("lang", "language")
async def language(tx: Tx, client: Client, t: Translator, args: list[str]) -> Outbound:
    wanted = args[0].lower()[:2] if args else ""
    if wanted in LANGUAGES:
        return await _set_language(tx, client, t, wanted)
    return Outbound(t("lang.choose"), buttons=_language_buttons())


@router.callback("lang")
async def language_button(tx: Tx, client: Client, t: Translator, data: str) -> Outbound:
    if data not in LANGUAGES:
        return Outbound(t("errors.stale_button"), buttons=_language_buttons())
    return await _set_language(tx, client, t, data)


@router.command("profile", "me")
@router.keyword("我的资料", "个人信息", "my profile", exact=True)
async def profile(
    event: Inbound, tx: Tx, client: Client, t: Translator, policy: Policy
) -> Outbound:
    if refusal := private_only(event, t):
        return refusal
    identities = await tx.clients.identities(client.id)
    topics = {x.key: x for x in await tx.topics.list(include_disabled=True)}
    subs = [topics[k].name(t.lang) for k in await tx.subscriptions.of(client.id) if k in topics]
    lines = [
        t("profile.title"),
        t("profile.name", name=client.display_name or t("profile.unknown")),
        t("profile.language", language=t(f"lang.name_{client.language}")),
        t("profile.since", date=client.created_at.astimezone(policy.tz).date().isoformat()),
        t(
            "profile.accounts",
            accounts=t("common.list_separator").join(
                f"{i.address}" + (f" (@{i.username})" if i.username else "") for i in identities
            ),
        ),
        t(
            "profile.subscriptions",
            topics=t("common.list_separator").join(subs) or t("profile.none"),
        ),
        "",
        t("profile.records_note"),
    ]
    return Outbound("\n".join(lines), buttons=[[Button(t("profile.delete_button"), "del:ask")]])


def _confirm(t: Translator) -> Outbound:
    return Outbound(
        t("delete.confirm"),
        buttons=[[Button(t("delete.yes"), "del:yes"), Button(t("delete.no"), "del:no")]],
    )


@router.command("deleteme", "forgetme")
@router.keyword("删除我的数据", "删除我的信息", "delete my data", exact=True)
async def ask_delete(event: Inbound, fsm: StateControl, t: Translator) -> Outbound:
    if refusal := private_only(event, t):
        return refusal
    await fsm.set("delete.confirm")
    return _confirm(t)


async def _erase(event: Inbound, tx: Tx, client: Client, t: Translator) -> list[Outbound]:
    stopped = await tx.subscriptions.unsubscribe_all(
        client.id, channel=event.channel, actor=event.sender
    )
    held = [tk for tk in await tx.tickets.of_client(client.id, limit=100) if tk.active]
    await tx.clients.erase(client.id)
    await tx.audit.log(event.sender, "erased", client_id=client.id, subscriptions=stopped)
    # Whoever was working on their cases must know the cases are closed.
    return [Outbound(t("delete.done", count=len(stopped))), *await erased_notices(tx, t, held)]


@router.callback("del")
async def delete_button(
    event: Inbound, tx: Tx, client: Client, t: Translator, fsm: StateControl, data: str
) -> Outbound | list[Outbound]:
    if refusal := private_only(event, t):
        return refusal
    if data == "ask":
        await fsm.set("delete.confirm")
        return _confirm(t)
    if data == "yes" and fsm.name == "delete.confirm":
        return await _erase(event, tx, client, t)  # erasure also clears the state
    await fsm.clear()
    if data == "yes":  # a stale confirm button from an earlier, abandoned request
        return Outbound(t("errors.stale_button"))
    return Outbound(t("delete.kept"), buttons=main_menu(t), replace=True)


@router.state("delete.confirm")
async def delete_typed(
    event: Inbound, tx: Tx, client: Client, t: Translator, fsm: StateControl
) -> Outbound | list[Outbound]:
    if event.text.strip().casefold() in CONFIRM_WORDS:
        return await _erase(event, tx, client, t)
    await fsm.clear()
    return Outbound(t("delete.kept"), buttons=main_menu(t))
