"""WeCom 微信客服 messages (from `kf/sync_msg`) as neutral Inbound events."""

from __future__ import annotations

import re
from typing import Any

from bot.core.commands import text_event
from bot.core.types import Inbound, normalize_address

CHANNEL = "wecom"
CLIENT, EVENT, SERVICER = 3, 4, 5  # `origin`: a client's, a system event, a servicer's
HUMAN, ENDED, NEW = 3, 4, 0  # service_state: a servicer holds it, ended, not yet taken
# session_status_change's change_type: 1 taken from the queue, 2 passed to another servicer,
# 3 ended, 4 taken again after it ended or was passed on.
CHANGES = {1: HUMAN, 2: HUMAN, 3: ENDED, 4: HUMAN}
MEDIA = frozenset({"image", "voice", "video", "file", "location", "link", "business_card"})
# A link's scene_param that carries a binding code: the client joins their file at once.
BIND_SCENE = re.compile(r"^bind[_-]?([0-9]{6})$")


def address(external_userid: str) -> str:
    return f"{CHANNEL}:{external_userid}"


def to_inbound(msg: dict[str, Any]) -> Inbound | None:
    """The event for one message, or None for a malformed entry or an event nobody needs.
    What a servicer wrote to the client in the WeCom app is archived with the chat (everything
    a client was sent is on record) and goes to the client's ticket as the advisor's answer,
    never answered by the bot."""
    msgid = str(msg.get("msgid") or "")[:64]
    origin = msg.get("origin")
    kind = str(msg.get("msgtype") or "")
    event = msg.get("event") if isinstance(msg.get("event"), dict) else {}
    user = msg.get("external_userid") or event.get("external_userid")
    if not msgid or not isinstance(user, str):
        return None
    try:
        chat = normalize_address(address(user))
    except ValueError:
        return None
    common: dict[str, Any] = {"platform_id": msgid, "dedupe_key": f"{CHANNEL}:msg:{msgid}"}
    if origin == CLIENT and kind == "text":
        text = msg.get("text") if isinstance(msg.get("text"), dict) else {}
        return text_event(CHANNEL, chat, chat, str(text.get("content") or ""), **common)
    if origin == CLIENT and kind in MEDIA:
        return Inbound(CHANNEL, chat, chat, kind="media", **common)
    if origin == EVENT and kind == "event" and event.get("event_type") == "enter_session":
        scene = BIND_SCENE.match(str(event.get("scene_param") or ""))
        words = f"/bind {scene.group(1)}" if scene else "/start"
        return text_event(CHANNEL, chat, chat, words, **common)
    if origin == SERVICER:  # an advisor answering in the WeCom app: the ticket hears of it
        servicer = str(msg.get("servicer_userid") or "")[:64]
        text = msg.get("text") if isinstance(msg.get("text"), dict) else {}
        content = str(text.get("content") or "") if kind == "text" else ""
        return Inbound(
            CHANNEL, chat, chat, kind="servicer", text=content, args=[servicer], **common
        )
    if origin == CLIENT:
        return Inbound(CHANNEL, chat, chat, kind="other", **common)
    return None


def welcome_code(msg: dict[str, Any]) -> str | None:
    """The one-time code an enter_session event gives for the welcome (20 seconds)."""
    event = msg.get("event") if isinstance(msg.get("event"), dict) else {}
    code = event.get("welcome_code")
    return code if isinstance(code, str) and code else None


def opens_window(msg: dict[str, Any]) -> bool:
    """A client's own message opens WeCom's window (5 messages in 48 hours)."""
    return msg.get("origin") == CLIENT


def session_change(msg: dict[str, Any]) -> tuple[str, int, str | None] | None:
    """(chat, service_state, servicer) when a message says who holds the session now: a
    servicer wrote in the WeCom app, or WeCom reports a session_status_change."""
    event = msg.get("event") if isinstance(msg.get("event"), dict) else {}
    user = msg.get("external_userid") or event.get("external_userid")
    if not isinstance(user, str) or not user:
        return None
    try:
        chat = normalize_address(address(user))
    except ValueError:
        return None
    if msg.get("origin") == SERVICER:
        servicer = msg.get("servicer_userid")
        return chat, HUMAN, str(servicer)[:64] if servicer else None
    if msg.get("origin") == EVENT and event.get("event_type") == "session_status_change":
        state = CHANGES.get(event.get("change_type"))  # type: ignore[arg-type]
        if state is None:
            return None
        servicer = event.get("new_servicer_userid") if state == HUMAN else None
        return chat, state, str(servicer)[:64] if servicer else None
    return None
