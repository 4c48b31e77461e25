"""Platform-neutral messages: what every channel turns its native updates into, and back."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.core.phones import mobile

CHANNELS = ("telegram", "console", "wechat", "wecom", "qq", "qqgroup", "staff", "sms")
_NUMERIC_ID_CHANNELS = frozenset({"telegram", "qq", "qqgroup"})
_NUMERIC_ID_RE = re.compile(r"-?[0-9]+")  # used with fullmatch(); ASCII digits only
_TEXT_ID_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # used with fullmatch()


def normalize_address(address: str) -> str:
    """Return the canonical ``"<channel>:<id>"`` form of an address or raise ValueError.

    The single source of truth for address rules:

    * The address is ``<channel>:<id>``, split at the first ``:``; whitespace around the
      channel and around the id is ignored.
    * The channel is one of telegram, qq, qqgroup, console, wechat, wecom, staff (the staff
      console's chats), sms, in any case; it becomes lower case.
    * telegram, qq and qqgroup (a QQ group) ids are integers: an optional ``-`` (group
      chats) then ASCII digits 0-9.
      Canonical form is ``str(int(id))``: ``telegram:0123`` -> ``telegram:123``, ``-0`` -> ``0``.
    * console, wechat, wecom and staff ids are 1-64 characters of ``A-Z a-z 0-9 _ . @ -``, kept as
      given (case-sensitive).
    * sms ids are mainland mobiles (11 digits starting 13-19); a +86, 0086 or 86 prefix and
      spaces, dashes and brackets are dropped: ``sms:+86 139-1234-5678`` -> ``sms:13912345678``.
    * Anything else (other channels, ``+``, inner spaces, ``;`` etc.) is a ValueError whose
      message quotes the address.
    """
    channel, sep, ident = address.partition(":")
    channel, ident = channel.strip().lower(), ident.strip()
    if not sep or channel not in CHANNELS:
        problem = f"the channel must be one of {', '.join(sorted(CHANNELS))}"
    elif channel in _NUMERIC_ID_CHANNELS:
        if _NUMERIC_ID_RE.fullmatch(ident):
            sign, digits = ("-", ident[1:]) if ident.startswith("-") else ("", ident)
            digits = digits.lstrip("0") or "0"  # str(int(ident)) without int()'s size limit
            return f"{channel}:{'' if digits == '0' else sign}{digits}"
        problem = f"{channel} ids are whole numbers"
    elif channel == "sms":
        number = mobile(ident)
        if number is not None:
            return f"sms:{number}"
        problem = "sms ids are mainland mobiles: 11 digits starting 13-19"
    elif _TEXT_ID_RE.fullmatch(ident):
        return f"{channel}:{ident}"
    else:
        problem = f"{channel} ids are 1-64 characters of A-Z a-z 0-9 _ . @ -"
    if ";" in address:
        problem += "; separate addresses with commas"
    shown = address.strip()
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise ValueError(
        f"{shown!r} is not a valid address; use <channel>:<id>, e.g. telegram:123456 ({problem})"
    )


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str | None = None  # callback data (<= 64 bytes on Telegram)
    url: str | None = None


@dataclass(slots=True)
class Inbound:
    """One thing a person did: a message, a command, a button press, a sticker."""

    channel: str
    chat: str  # address of the conversation, e.g. "telegram:123"
    sender: str  # address of the person
    # text | command | callback | sticker | photo | media | other (archived, not handled),
    # or a platform event a feature handles: unfollow, contact (a client added an advisor)
    kind: str = "text"
    text: str = ""
    command: str | None = None
    args: list[str] = field(default_factory=list)
    callback_data: str | None = None
    language: str | None = None
    display_name: str | None = None
    username: str | None = None
    platform_id: str | None = None  # the platform's message id
    ref_id: str | None = None  # for callbacks: the message whose button was pressed
    reply_to: str | None = None  # the platform id of the message this one answers
    dedupe_key: str | None = None  # the platform's delivery id (Telegram update_id)
    view_as: str | None = None  # console only: "client" to see the client's view

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Inbound:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(slots=True)
class Outbound:
    """A reply or notice. `text` is the small HTML subset (b, i, code, a) with values escaped."""

    text: str
    chat: str | None = None  # None: the chat the inbound came from
    buttons: list[list[Button]] = field(default_factory=list)
    priority: int = 0  # higher first; alerts jump ahead of routine notes
    replace: bool = False  # edit the message a pressed button belongs to, where possible
    ref: str | None = None  # what the message is about, e.g. "ticket:12": replies find it
    # A file sent with it: {"name": "monthly-2026-11.csv", "text": "..."} (text files only)
    document: dict[str, str] | None = None
    # The language its words are in, when not the one of the chat it answers (a job's notice,
    # a message to someone else): numbered options on a button-less channel follow it.
    lang: str | None = None
    # The end of a conversation with a person (a resolved ticket): a platform whose sessions
    # people take over (WeCom's 微信客服) hands the session back to the bot with it.
    ends_session: bool = False

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "buttons": [[asdict(b) for b in row] for row in self.buttons],
            "priority": self.priority,
            "replace": self.replace,
        }
        if self.ref is not None:
            payload["ref"] = self.ref
        if self.lang is not None and self.buttons:
            payload["lang"] = self.lang
        if self.document is not None:
            payload["document"] = self.document
        if self.ends_session:
            payload["ends_session"] = True
        return payload

    @staticmethod
    def buttons_from_payload(payload: dict[str, Any]) -> list[list[Button]]:
        return [[Button(**b) for b in row] for row in payload.get("buttons") or []]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can render; the core adapts messages to it."""

    max_text: int = 4096
    buttons: bool = True
    can_edit: bool = False
    # False: the text is split as the phone shows it (SMS: a tag would take a part's room).
    markup: bool = True


# What each platform renders, also for a process that writes rows it does not send itself
# (a CLI broadcast, say). WeChat: 2,048 bytes of text, no buttons in customer-service text.
KNOWN_CAPABILITIES: dict[str, Capabilities] = {
    "wechat": Capabilities(max_text=600, buttons=False),
    # WeCom's 微信客服: 2,048 bytes of text; options as numbered text.
    "wecom": Capabilities(max_text=600, buttons=False),
    # QQ (OneBot): text only; long messages are folded by QQ, so parts stay readable.
    "qq": Capabilities(max_text=1500, buttons=False),
    "qqgroup": Capabilities(max_text=1500, buttons=False),
    # The staff console's pages show a reply whole, its buttons as buttons.
    "staff": Capabilities(max_text=100_000, buttons=True),
    # SMS: one part carries 70 Chinese characters; a longer text is sent as 67-character parts,
    # each billed. 70 makes every row render() writes one part: one charge each (ceil(n/70)
    # parts, never more than a long text's ceil(n/67)), and each readable alone on any phone.
    # Options are numbered text. The sign name (【…】) and the template's words count too: the
    # sender checks the whole text against the provider's limits and refuses, never cuts.
    "sms": Capabilities(max_text=35, buttons=False, markup=False),  # Alibaba's template variable
}
