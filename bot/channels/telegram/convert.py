"""Native Telegram updates -> neutral Inbound events."""

from __future__ import annotations

from aiogram.types import Message, Update, User

from bot.core.commands import text_event
from bot.core.types import Inbound

CHANNEL = "telegram"
_MEDIA = ("document", "voice", "video", "video_note", "audio", "animation", "location", "contact")


def address(ident: int) -> str:
    return f"{CHANNEL}:{ident}"


def _who(user: User | None) -> dict[str, str | None]:
    if user is None:
        return {"display_name": None, "username": None, "language": None}
    return {
        "display_name": user.full_name[:200],
        "username": user.username,
        "language": user.language_code,
    }


def _from_message(message: Message, key: str) -> Inbound:
    chat = address(message.chat.id)
    sender = address(message.from_user.id) if message.from_user else chat
    replied = message.reply_to_message
    common = {
        "platform_id": str(message.message_id),
        "dedupe_key": key,
        "reply_to": str(replied.message_id) if replied is not None else None,
        **_who(message.from_user),
    }
    if message.text is not None:
        return text_event(CHANNEL, chat, sender, message.text, **common)
    if message.caption:  # a screenshot with a question: answer the question
        return text_event(CHANNEL, chat, sender, message.caption, **common)
    if message.sticker is not None:
        kind = "sticker"
    elif message.photo:
        kind = "photo"
    elif any(getattr(message, name, None) is not None for name in _MEDIA):
        kind = "media"
    else:
        kind = "other"
    return Inbound(CHANNEL, chat, sender, kind=kind, text=message.caption or "", **common)


def to_inbound(update: Update) -> Inbound:
    """Every update becomes an event (unknown kinds as "other") so each one is archived."""
    key = f"{CHANNEL}:update:{update.update_id}"
    if update.message is not None:
        return _from_message(update.message, key)
    if update.callback_query is not None:
        query = update.callback_query
        sender = address(query.from_user.id)
        message = query.message
        chat = address(message.chat.id) if message is not None else sender
        return Inbound(
            CHANNEL,
            chat,
            sender,
            kind="callback",
            callback_data=(query.data or "")[:64],
            ref_id=str(message.message_id) if message is not None else None,
            platform_id=query.id,
            dedupe_key=key,
            **_who(query.from_user),
        )
    source = update.edited_message or update.my_chat_member
    user = getattr(source, "from_user", None)
    chat_obj = getattr(source, "chat", None)
    sender = address(user.id) if user else address(chat_obj.id) if chat_obj else f"{CHANNEL}:0"
    chat = address(chat_obj.id) if chat_obj else sender
    return Inbound(CHANNEL, chat, sender, kind="other", dedupe_key=key, **_who(user))
