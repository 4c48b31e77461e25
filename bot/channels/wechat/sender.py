"""Outgoing WeChat messages. A reply goes back passively while WeChat waits on the client's
request; otherwise through the customer-service API inside the client's window; outside it
a service notice takes the configured template message, and anything else is recorded as
not deliverable on this channel (never retried forever, never sent as marketing)."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass

from bot.channels.wechat.api import ApiError, NoAnswer, Unreachable, WechatApi
from bot.channels.wechat.convert import CHANNEL
from bot.channels.wechat.passive import PassiveReplies
from bot.core.delivery import Limits, OutMessage, SendFailure
from bot.core.text import to_plain
from bot.core.types import KNOWN_CAPABILITIES, Capabilities
from storage.database import Database

log = logging.getLogger(__name__)

OUT_OF_WINDOW = frozenset({45015, 45047})  # out of time / out of the window's count
UNFOLLOWED = 43004
DAILY_QUOTA = 45009
BUSY = -1
MAX_BYTES = 2048
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True, slots=True)
class Templates:
    """The template message for service notices outside the window (None: there is none)."""

    template_id: str | None = None
    field: str = "content"


def is_service_notice(message: OutMessage) -> bool:
    """A notice about the client's own case (a ticket), never a broadcast."""
    return not message.bulk and (message.ref or "").startswith("ticket:")


def plain_text(message: OutMessage) -> str:
    text = _CONTROL.sub("", to_plain(message.text)).strip()
    if message.document:  # WeChat's text API carries no files; say what was left out
        text += f"\n[{message.document.get('name', '')}]"
    while len(text.encode()) > MAX_BYTES:  # the engine splits; this is the last guard
        text = text[: len(text) * 9 // 10]
    return text


def plain_mass_text(markup: str) -> str:
    """A mass send's text: plain, without control characters (WeChat sends it whole)."""
    return _CONTROL.sub("", to_plain(markup)).strip()


class WechatSender:
    channel = CHANNEL
    capabilities: Capabilities = KNOWN_CAPABILITIES[CHANNEL]

    def __init__(
        self,
        api: WechatApi,
        db: Database,
        passive: PassiveReplies,
        *,
        limits: Limits,
        templates: Templates = Templates(),
    ) -> None:
        self.api = api
        self.db = db
        self.passive = passive
        self.limits = limits
        self.templates = templates

    def is_group(self, chat: str) -> bool:
        return False

    async def send(self, message: OutMessage) -> str | None:
        openid = message.chat.split(":", 1)[1]
        text = plain_text(message)
        if not message.bulk and self.passive.take(openid, text):
            return "passive"
        try:
            async with self.db.write() as tx:
                in_window = await tx.wechat.use_window(message.chat)
        except Exception as exc:  # the database, not WeChat: nothing was sent
            raise SendFailure("retry", f"window not read: {exc}") from None
        if in_window:
            try:
                await self.api.send_text(openid, text)
                return "cs"
            except (ApiError, Unreachable, NoAnswer) as exc:
                code = exc.code if isinstance(exc, ApiError) else None
                if code in OUT_OF_WINDOW:  # WeChat knows better: the window is gone
                    await self._settle_window(message.chat, close=True)
                else:
                    if not isinstance(exc, NoAnswer):  # it may have arrived: the count stays
                        await self._settle_window(message.chat, close=code == UNFOLLOWED)
                    raise _failure(exc) from None
        return await self._outside_window(openid, message, text)

    async def _outside_window(self, openid: str, message: OutMessage, text: str) -> str:
        template = self.templates.template_id
        if template is None or not is_service_notice(message):
            raise SendFailure("rejected", "wechat: outside the client's customer-service window")
        try:
            answer = await self.api.send_template(openid, template, self.templates.field, text)
        except (ApiError, Unreachable, NoAnswer) as exc:
            raise _failure(exc) from None
        return f"tpl:{answer.get('msgid', '')}"

    async def _settle_window(self, chat: str, *, close: bool) -> None:
        await settle_window(self.db, chat, close=close)


async def settle_window(db: Database, chat: str, *, close: bool) -> None:
    """A message taken from a window (the official account's, WeCom's) did not go: give it
    back, or close the window."""
    with contextlib.suppress(Exception):  # a courtesy, not a must
        async with db.write() as tx:
            if close:
                await tx.wechat.close_window(chat)
            else:
                await tx.wechat.give_back(chat)


def _failure(exc: ApiError | Unreachable | NoAnswer) -> SendFailure:
    """What the engine does next: nothing sent is a retry, maybe sent is ambiguous, and
    WeChat's own codes as below."""
    if isinstance(exc, Unreachable):
        return SendFailure("retry", str(exc))
    if isinstance(exc, NoAnswer):
        return SendFailure("ambiguous", str(exc))
    if exc.code == UNFOLLOWED:
        return SendFailure("blocked", f"wechat {exc.code}: {exc.message}")
    if exc.code in OUT_OF_WINDOW:
        return SendFailure("rejected", f"wechat {exc.code}: outside the window")
    if exc.code == DAILY_QUOTA:  # back at midnight; a backoff, not a hold of the channel:
        return SendFailure("retry", f"wechat {exc.code}: daily quota")  # passive ones still go
    if exc.code == BUSY:
        return SendFailure("retry", f"wechat {exc.code}: {exc.message}")
    return SendFailure("rejected", f"wechat {exc.code}: {exc.message}")
