"""Outgoing Telegram messages: inline keyboards, HTML, rate limits and error mapping."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

from bot.channels.telegram.convert import CHANNEL
from bot.core.delivery import SendFailure
from bot.core.ratelimit import RateLimiter
from bot.core.text import to_plain
from bot.core.types import Button, Capabilities

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


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


def _failure(exc: TelegramAPIError) -> SendFailure:
    """Map aiogram's errors onto what the outbox should do next."""
    if isinstance(exc, TelegramRetryAfter):
        return SendFailure("retry", exc.message, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return SendFailure("blocked", exc.message)
    if isinstance(exc, TelegramServerError):
        return SendFailure("retry", exc.message)
    if isinstance(exc, TelegramNetworkError):
        # Could not connect: nothing left, safe to retry. A timeout: it may have arrived.
        if "timeout" in exc.message.lower():
            return SendFailure("ambiguous", exc.message)
        return SendFailure("retry", exc.message)
    return SendFailure("rejected", exc.message)


class TelegramSender:
    channel = CHANNEL
    capabilities = Capabilities(max_text=4096, buttons=True, can_edit=True)

    def __init__(self, bot: Bot, rate_limit: float = 30.0) -> None:
        self.bot = bot
        self.limiter = RateLimiter(rate_limit)

    async def pace(self) -> None:
        await self.limiter.acquire()

    async def send(
        self, chat: str, text: str, buttons: list[list[Button]], *, edit: str | None
    ) -> str | None:
        """One message; the caller has already waited its turn with `pace`."""
        chat_id = int(chat.split(":", 1)[1])
        markup = keyboard(buttons)
        try:
            if edit is not None:
                if await self._edit(chat_id, int(edit), text, markup):
                    return edit
                return await self._send(chat_id, text, markup, paced=False)
            return await self._send(chat_id, text, markup)
        except TelegramRetryAfter as exc:
            self.limiter.pause(float(exc.retry_after))  # a flood limit holds for the whole bot
            raise _failure(exc) from exc
        except TelegramAPIError as exc:
            raise _failure(exc) from exc
        except ClientDecodeError as exc:
            # A proxy's error page instead of JSON: the Bot API did not take the message.
            raise SendFailure("retry", f"undecodable reply: {exc}") from exc

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None, *, paced: bool = True
    ) -> str:
        if not paced:
            await self.limiter.acquire()
        try:
            sent = await self.bot.send_message(
                chat_id,
                text,
                parse_mode="HTML",
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramBadRequest as exc:
            if "can't parse entities" not in exc.message:
                raise
            # Never lose a message over markup: send it again as plain text.
            log.warning("HTML rejected for chat %s (%s); sending plain text", chat_id, exc.message)
            await self.limiter.acquire()
            sent = await self.bot.send_message(
                chat_id, to_plain(text), reply_markup=markup, link_preview_options=NO_PREVIEW
            )
        return str(sent.message_id)

    async def _edit(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Replace a message in place; False when it cannot be edited (send a new one)."""
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML",
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return True
            log.info("cannot edit %s/%s (%s); sending anew", chat_id, message_id, exc.message)
            return False
        return True
