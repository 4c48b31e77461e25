"""What happens when nothing else matched: never a dead end, always a way back to the menu."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound
from handlers.shared.menus import main_menu

router = Router("fallback")


@router.fallback("callback")
async def stale_button(t: Translator) -> Outbound:
    # Forged data, or a button from a menu that no longer exists.
    return Outbound(t("errors.stale_button"), buttons=main_menu(t))


@router.fallback("command")
async def unknown_command(event: Inbound, t: Translator) -> Outbound:
    return Outbound(t("errors.unknown_command", command=(event.command or "")[:40]))


@router.fallback("sticker", "photo", "media")
async def not_text(t: Translator) -> Outbound:
    return Outbound(t("errors.not_text"), buttons=main_menu(t))
