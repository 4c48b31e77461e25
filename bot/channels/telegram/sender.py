"""Outgoing Telegram messages: inline keyboards, HTML, and Bot API errors mapped to what the
delivery engine does next. Pacing is the engine's; this makes exactly one call per send."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageText,
    GetMe,
    SendDocument,
    SendMessage,
    SetMyCommands,
    SetWebhook,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
)

from bot.channels.telegram.convert import CHANNEL, address
from bot.core.delivery import Limits, OutMessage, SendFailure
from bot.core.text import to_plain
from bot.core.types import Button, Capabilities

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# aiogram parses every answer with `Response[<result type>]`; pydantic caches such classes
# only weakly, so each garbage collection made the next call build the class again (a
# tenth of a send's CPU, measured). Holding them keeps the cache warm.
RESPONSE_TYPES = [
    Response[m.__returning__]  # type: ignore[name-defined]
    for m in (SendMessage, SendDocument, EditMessageText, AnswerCallbackQuery, GetMe, SetMyCommands,
              SetWebhook, DeleteWebhook)
]  # fmt: skip


def keyboard(buttons: list[list[Button]]) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(text=b.label, url=b.url)
            if b.url
            else InlineKeyboardButton(text=b.label, callback_data=b.data or "noop")
            for b in row
        ]
        for row in buttons
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def failure(exc: TelegramAPIError, *, editing: bool = False) -> SendFailure:
    """Map aiogram's errors onto what the outbox should do next."""
    text = exc.message.lower()
    if isinstance(exc, TelegramMigrateToChat):  # a group became a supergroup
        return SendFailure("moved", exc.message, moved_to=address(exc.migrate_to_chat_id))
    if isinstance(exc, TelegramRetryAfter):
        return SendFailure("retry", exc.message, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return SendFailure("blocked", exc.message)
    if isinstance(exc, TelegramServerError):
        return SendFailure("retry", exc.message)
    if isinstance(exc, TelegramNetworkError):
        # Could not connect: nothing left, safe to retry. A timeout: it may have arrived.
        if "timeout" in text:
            return SendFailure("ambiguous", exc.message)
        return SendFailure("retry", exc.message)
    if isinstance(exc, TelegramBadRequest):
        if "can't parse entities" in text:
            return SendFailure("markup", exc.message)
        if editing:  # gone, too old, not ours: a new message says the same
            return SendFailure("not_editable", exc.message)
    return SendFailure("rejected", exc.message)


class TelegramSender:
    channel = CHANNEL
    capabilities = Capabilities(max_text=4096, buttons=True, can_edit=True)

    def __init__(self, bot: Bot, limits: Limits | None = None) -> None:
        self.bot = bot
        self.limits = limits or Limits(rate=30.0, chat_interval=1.0, group_per_minute=20)

    @staticmethod
    def is_group(chat: str) -> bool:
        return chat.split(":", 1)[1].startswith("-")  # groups and channels have negative ids

    async def send(self, message: OutMessage) -> str | None:
        """One Bot API call: an edit when asked for and possible, else a new message."""
        chat_id = int(message.chat.split(":", 1)[1])
        markup = keyboard(message.buttons)
        text = to_plain(message.text) if message.plain else message.text
        mode = None if message.plain else "HTML"
        try:
            if message.edit is not None:
                return await self._edit(chat_id, int(message.edit), text, mode, markup)
            if message.document is not None:
                doc = message.document
                upload = BufferedInputFile(doc["text"].encode("utf-8"), filename=doc["name"])
                sent_doc = await self.bot.send_document(
                    chat_id, upload, caption=to_plain(message.text)[:1000] or None
                )
                return str(sent_doc.message_id)
            sent = await self.bot.send_message(
                chat_id, text, parse_mode=mode, reply_markup=markup, link_preview_options=NO_PREVIEW
            )
        except TelegramAPIError as exc:
            raise failure(exc) from exc
        except ClientDecodeError as exc:
            # A proxy's error page instead of JSON: the Bot API did not take the message.
            raise SendFailure("retry", f"undecodable reply: {exc}") from exc
        return str(sent.message_id)

    async def _edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        mode: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> str:
        """Replace a message in place; "not modified" means it already reads so."""
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=mode,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return str(message_id)
            raise failure(exc, editing=True) from exc
        return str(message_id)
