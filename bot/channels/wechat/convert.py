"""WeChat's pushed messages and events as neutral Inbound events."""

from __future__ import annotations

from bot.core.commands import text_event
from bot.core.types import Inbound

CHANNEL = "wechat"
MEDIA = frozenset({"image", "voice", "video", "shortvideo", "location", "link", "file"})


def address(openid: str) -> str:
    return f"{CHANNEL}:{openid}"


def dedupe_key(fields: dict[str, str]) -> str:
    """WeChat's retries repeat the message: MsgId for messages, sender + time for events
    (with the event and its key: two menu clicks in one second are two events)."""
    if fields.get("MsgId"):
        return f"{CHANNEL}:msg:{fields['MsgId'][:40]}"
    return (
        f"{CHANNEL}:event:{fields.get('FromUserName', '')[:64]}:"
        f"{fields.get('CreateTime', '')[:12]}:{fields.get('Event', '')[:32].lower()}:"
        f"{fields.get('EventKey', '')[:64]}:{fields.get('MsgID', '')[:40]}"
    )  # MsgID: two mass-send reports in one second are two events


def to_inbound(fields: dict[str, str]) -> Inbound:
    """A follow is a /start, a menu click is its key typed in, an unfollow is `unfollow`."""
    openid = fields["FromUserName"]
    chat = address(openid)
    common = {"platform_id": fields.get("MsgId") or None, "dedupe_key": dedupe_key(fields)}
    kind = fields.get("MsgType", "").lower()
    if kind == "text":
        return text_event(CHANNEL, chat, chat, fields.get("Content", ""), **common)
    if kind == "event":
        event = fields.get("Event", "").lower()
        if event == "subscribe":
            return text_event(CHANNEL, chat, chat, "/start", **common)
        if event == "unsubscribe":
            return Inbound(CHANNEL, chat, chat, kind="unfollow", **common)
        if event == "click" and fields.get("EventKey"):
            return text_event(CHANNEL, chat, chat, fields["EventKey"][:200], **common)
        return Inbound(CHANNEL, chat, chat, kind="other", **common)
    if kind in MEDIA:
        return Inbound(CHANNEL, chat, chat, kind="media", **common)
    return Inbound(CHANNEL, chat, chat, kind="other", **common)


def opens_window(fields: dict[str, str]) -> str | None:
    """What the client did, for WeChat's customer-service window: "message" (a text or media
    message), "event" (a menu click or follow), or None (nothing that opens one)."""
    kind = fields.get("MsgType", "").lower()
    if kind == "text" or kind in MEDIA:
        return "message"
    if kind == "event" and fields.get("Event", "").lower() in ("subscribe", "click", "scan"):
        return "event"
    return None


def is_mass_report(fields: dict[str, str]) -> bool:
    """MASSSENDJOBFINISH: how a mass send went, from the account's mass-send helper."""
    return (
        fields.get("MsgType", "").lower() == "event"
        and fields.get("Event", "").lower() == "masssendjobfinish"
    )
