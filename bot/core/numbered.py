"""Button fallback for platforms without buttons: options are shown numbered, and a reply
with the number or the label counts as pressing the button."""

from __future__ import annotations

from typing import Any

from bot.core.dispatcher import Next
from bot.core.i18n import Translator
from bot.core.text import clean_input, escape
from bot.core.types import Button, Inbound, Outbound


def numbered(buttons: list[list[Button]]) -> list[Button]:
    return [b for row in buttons for b in row]


def _option_lines(buttons: list[list[Button]]) -> list[str]:
    return [f"{i}. {escape(b.label)}" for i, b in enumerate(numbered(buttons), 1)]


def numbered_menu(buttons: list[list[Button]], t: Translator) -> str:
    """The text a button-less platform shows in place of buttons."""
    return "\n".join([*_option_lines(buttons), t("common.choose_hint")])


HINT_ROOM = 40  # characters kept for `common.choose_hint` in any language


def menu_room(buttons: list[list[Button]]) -> int:
    """Characters the numbered options take after a message's text (with the blank line),
    whatever language the hint is in: what a message part must leave free for them."""
    return len("\n".join(_option_lines(buttons))) + 3 + HINT_ROOM


def _label_key(label: str) -> str:
    # Labels may carry a status mark ("✅ 早盘操作建议"); people type the words.
    return "".join(ch for ch in label if ch.isalnum() or ch.isspace()).strip().casefold()


def choose(text: str, options: list[Button]) -> Button | None:
    """The option a typed reply means: its number (1-based) or its label."""
    typed = clean_input(text).rstrip(".、").casefold()
    if typed.isdigit():
        index = int(typed) - 1
        return options[index] if 0 <= index < len(options) else None
    key = _label_key(typed)
    matches = [b for b in options if key and _label_key(b.label) == key]
    return matches[0] if len(matches) == 1 else None


MAX_OPTION_DIGITS = 2  # longer numbers (a phone, an account) are what the person means


async def numbered_replies(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    """Turn "2" or a label into the button press it stands for, on button-less channels."""
    if event.kind == "text" and not ctx["capabilities"].buttons and event.text:
        last = await ctx["tx"].messages.last_outbound_with_buttons(event.chat)
        if last is not None:
            options = numbered(Outbound.buttons_from_payload(last.payload))
            typed = clean_input(event.text).rstrip(".、")
            picked = (
                choose(event.text, options)
                if len(typed) <= MAX_OPTION_DIGITS or not typed.isdigit()
                else None
            )
            if picked is None and typed.isdigit() and len(typed) <= MAX_OPTION_DIGITS:
                key = "common.choose_one" if len(options) == 1 else "common.choose_range"
                return [Outbound(ctx["t"](key, count=len(options)))]
            if picked is not None and picked.data:
                event.kind, event.callback_data, event.ref_id = "callback", picked.data, None
            elif picked is not None and picked.url:
                return [Outbound(picked.url)]
    return await call_next(event, ctx)
