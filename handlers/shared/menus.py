"""The main menu's buttons, offered at the end of most conversations by every feature."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.types import Button


def main_menu(t: Translator) -> list[list[Button]]:
    return [
        [Button(t("menu.subscriptions"), "sub:view"), Button(t("menu.faq"), "menu:faq")],
        [Button(t("menu.complaint"), "menu:complaint"), Button(t("menu.advisor"), "menu:advisor")],
    ]


def back_to_menu(t: Translator) -> list[list[Button]]:
    return [[Button(t("menu.back"), "menu:main")]]
