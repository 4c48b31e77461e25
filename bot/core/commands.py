"""Turning typed text into a neutral event: commands are parsed the same on every platform."""

from __future__ import annotations

from typing import Any

from bot.core.dispatcher import Next
from bot.core.text import clean_input
from bot.core.types import Inbound, Outbound

MAX_ARGS = 20
# Button data that runs a command, as if the person had typed it ("cmd:/subscribe news").
COMMAND_PREFIX = "cmd:"


def parse_command(text: str) -> tuple[str, list[str]] | None:
    """'/subscribe@my_bot 早盘 晚盘' -> ('subscribe', ['早盘', '晚盘']); None if not a command.

    A full-width slash (／), common with Chinese input methods, counts as a slash.
    """
    cleaned = clean_input(text)
    if len(cleaned) < 2 or cleaned[0] not in "/／" or cleaned[1].isspace():
        return None
    head, *args = cleaned[1:].split()
    name = head.split("@", 1)[0].lower()[:32]
    return name, [a[:100] for a in args[:MAX_ARGS]]


def text_event(channel: str, chat: str, sender: str, text: str, **fields: Any) -> Inbound:
    """An Inbound for typed text, marked as a command when it is one."""
    parsed = parse_command(text)
    if parsed is None:
        return Inbound(channel, chat, sender, kind="text", text=text, **fields)
    name, args = parsed
    return Inbound(
        channel, chat, sender, kind="command", text=text, command=name, args=args, **fields
    )


async def command_buttons(call_next: Next, event: Inbound, ctx: dict[str, Any]) -> list[Outbound]:
    """A pressed command button becomes the command; role checks apply as for typed ones."""
    data = event.callback_data or ""
    if event.kind == "callback" and data.startswith(COMMAND_PREFIX):
        parsed = parse_command(data[len(COMMAND_PREFIX) :])
        if parsed is not None:
            event.kind, event.callback_data, event.ref_id = "command", None, None
            event.command, event.args = parsed
            event.text = data[len(COMMAND_PREFIX) :]
    return await call_next(event, ctx)
