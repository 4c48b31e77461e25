"""OneBot v11 message events as neutral Inbound events. In groups the bot takes only what is
addressed to it: an at-mention of the account, or a message starting with the prefix."""

from __future__ import annotations

from typing import Any

from bot.channels.qq import cq
from bot.core.commands import text_event
from bot.core.types import Inbound

CHANNEL, GROUPS = "qq", "qqgroup"


def _number(value: Any) -> str | None:
    text = str(value) if isinstance(value, int | str) else ""
    return text if text.isdigit() and 0 < len(text) <= 20 else None


def message_event(data: dict[str, Any], *, prefix: str) -> Inbound | None:
    """The event for a message, or None when it is not for us (or not a message we can
    read: no sender, a group message nobody addressed to the bot)."""
    user, self_id = _number(data.get("user_id")), _number(data.get("self_id"))
    if user is None or self_id is None or user == self_id:
        return None
    kind = data.get("message_type")
    parsed = cq.parse(data.get("message", data.get("raw_message", "")))
    fields: dict[str, Any] = {
        "platform_id": _number(data.get("message_id")),
        "reply_to": parsed.reply_to,
        # message_id is a 32-bit hash or a per-chat counter in most implementations: with the
        # chat, the sender and the time it stays one message's key.
        "dedupe_key": (
            f"{CHANNEL}:msg:{self_id}:{data.get('group_id', '')}:{user}:"
            f"{data.get('time', '')}:{data.get('message_id')}"
        )[:200],
    }
    sender = data.get("sender") if isinstance(data.get("sender"), dict) else {}
    name = sender.get("card") or sender.get("nickname")
    if isinstance(name, str) and name.strip():
        fields["display_name"] = name.strip()[:100]
    person = f"{CHANNEL}:{user}"
    if kind == "private":
        chat = person
    elif kind == "group" and (group := _number(data.get("group_id"))) is not None:
        addressed = self_id in parsed.mentions or (prefix and parsed.text.startswith(prefix))
        if not addressed:
            return None
        chat = f"{GROUPS}:{group}"
    else:
        return None
    if parsed.media and not parsed.text:
        return Inbound(CHANNEL, chat, person, kind="media", **fields)
    return text_event(CHANNEL, chat, person, parsed.text, **fields)
