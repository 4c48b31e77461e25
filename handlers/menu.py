"""Greeting, main menu and help: the first thing a client sees."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.state import StateControl
from bot.core.types import Outbound
from handlers.shared.menus import back_to_menu, main_menu

router = Router("menu")


@router.command("start")
async def start(t: Translator, fsm: StateControl) -> Outbound:
    await fsm.clear()
    return Outbound(f"{t('start.greeting')}\n\n{t('start.intro')}", buttons=main_menu(t))


@router.command("help", "menu")
@router.keyword("菜单", "帮助", "主菜单", "menu", "help", exact=True)
async def help_(t: Translator, roles: frozenset[str], fsm: StateControl) -> Outbound:
    await fsm.clear()
    text = t("help.client")
    if roles & {"staff", "admin"}:
        text += "\n\n" + t("help.staff")
    if "admin" in roles:
        text += "\n\n" + t("help.admin")
    return Outbound(text, buttons=main_menu(t))


@router.command("cancel")
@router.callback("req")
@router.keyword("取消", "退出", "cancel", exact=True, anytime=True)
async def cancel(t: Translator, fsm: StateControl) -> Outbound:
    """Leave whatever multi-step flow is open; harmless when none is."""
    await fsm.clear()
    return Outbound(t("request.cancelled"), buttons=main_menu(t))


@router.callback("menu")
async def menu_choice(data: str, t: Translator, fsm: StateControl) -> Outbound:
    if data == "main":
        await fsm.clear()
        return Outbound(t("menu.title"), buttons=main_menu(t), replace=True)
    if data == "faq":
        return Outbound(t("menu.faq_prompt"), buttons=back_to_menu(t))
    return Outbound(t("errors.stale_button"), buttons=main_menu(t))
