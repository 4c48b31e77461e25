"""Turning a handler's `Outbound` messages into outbox rows fitted to the channel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.core.i18n import Translator
from bot.core.numbered import menu_room, numbered_menu
from bot.core.text import escape, split_text, to_plain
from bot.core.types import Button, Capabilities, Outbound


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One platform call's worth: what a sender gets."""

    chat: str
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    edit: str | None = None  # the platform id of a message to replace, where possible
    plain: bool = False  # send without markup (the platform refused it once)
    document: dict[str, str] | None = None  # a text file to attach: {"name", "text"}
    bulk: bool = False  # a broadcast's delivery, not an answer to someone
    ref: str | None = None  # what it is about ("ticket:12": a service notice)
    lang: str | None = None  # the language of its words (numbered options follow it)
    ends_session: bool = False  # a conversation with a person ends (see Outbound)
    template: str | None = None  # SMS: notice (None), alert or marketing: which template
    row: int | None = None  # the outbox row (SMS gives it to the provider to echo in receipts)


def with_options(message: OutMessage, t: Translator) -> OutMessage:
    """The message as a channel without buttons shows it: its options numbered below the
    text, the hint in the message's language. Done as each row is sent, so every row with
    buttons gets them whoever wrote it (a reply, a job's notice, a broadcast's fan-out)."""
    if not message.buttons:
        return message
    menu = numbered_menu(message.buttons, t.with_lang(message.lang) if message.lang else t)
    return replace(message, text=f"{message.text}\n\n{menu}" if message.text else menu)


def render(
    outs: Iterable[Outbound],
    *,
    chat: str,
    capabilities: Callable[[str], Capabilities],
    client_id: int | None = None,
    reply_to: int | None = None,
    ref_id: str | None = None,
    t: Translator | None = None,
    locked: bool = False,
    bulk: bool = False,
) -> list[dict[str, Any]]:
    """Rows for `MessageRepo.add_outbound_many`, split to each channel's size limit.

    Buttons ride on the last part of a split message, with the language of the words
    (`out.lang`, else `t`'s): a channel without buttons shows them numbered when the row is
    sent (`with_options`), so the parts leave room for them.
    """
    rows: list[dict[str, Any]] = []
    for out in outs:
        target = out.chat or chat
        channel = target.split(":", 1)[0]
        caps = capabilities(channel)
        limit = caps.max_text
        if out.buttons and not caps.buttons:
            limit = max(caps.max_text // 2, limit - menu_room(out.buttons))
        if caps.markup:
            parts = split_text(out.text, limit)
        else:  # as the phone shows it: every character of a part is the client's to read
            parts = [escape(p) for p in split_text(to_plain(out.text), limit, margin=0)]
        for i, part in enumerate(parts):
            payload: dict[str, Any] = out.payload()
            if out.buttons and t is not None:
                payload.setdefault("lang", t.lang)
            if i < len(parts) - 1:
                payload["buttons"] = []
                payload.pop("document", None)  # the file rides on the last part
            payload["edit"] = ref_id if out.replace and len(parts) == 1 and target == chat else None
            rows.append(
                {
                    "channel": channel,
                    "chat": target,
                    "text": part,
                    "payload": payload,
                    "client_id": client_id if target == chat else None,
                    "reply_to": reply_to,
                    "locked": locked,
                    "bulk": bulk,
                    "priority": out.priority,
                }
            )
    return rows


def message_of(
    chat: str,
    text: str | None,
    payload: dict[str, Any],
    plain: bool = False,
    *,
    bulk: bool = False,
    row: int | None = None,
) -> OutMessage:
    return OutMessage(
        chat,
        text or "",
        Outbound.buttons_from_payload(payload),
        payload.get("edit"),
        plain,
        payload.get("document"),
        bulk,
        payload.get("ref"),
        payload.get("lang"),
        bool(payload.get("ends_session")),
        payload.get("template"),
        row,
    )


@dataclass(slots=True)
class Job:
    """An outbox row this process holds (status `sending`, under our lease)."""

    id: int
    chat: str
    text: str
    payload: dict[str, Any]
    bulk: bool
    priority: int
    created_at: datetime
    attempts: int = 0  # platform calls made before this lease
    tries: int = 0  # platform calls made under this lease
    plain: bool = False
    fresh: bool = False  # the message to edit is gone: send a new one
    not_before: float = 0.0  # monotonic; a retry waits in memory until then
    launched: bool = True  # bulk rows are `queued` until marked `sending`, just before a try
    dropped: bool = False  # no longer ours when it was to be marked `sending` (cancelled)

    @property
    def key(self) -> tuple[bool, int, int]:
        return (self.bulk, -self.priority, self.id)

    def message(self) -> OutMessage:
        payload = dict(self.payload, edit=None) if self.fresh else self.payload
        return message_of(self.chat, self.text, payload, self.plain, bulk=self.bulk, row=self.id)
