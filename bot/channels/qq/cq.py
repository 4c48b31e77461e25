"""OneBot v11 messages: CQ-code strings and message-segment arrays in, segment arrays out.

Incoming text may come either way; both become plain text plus who was mentioned. Outgoing
messages are always segment arrays of type "text", so nothing a client typed (or anything
else we send) can ever be read as a CQ code by the implementation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_CQ = re.compile(r"\[CQ:([A-Za-z0-9_.-]+)((?:,[^\[\],]*)*)\]")


def unescape(text: str) -> str:
    """CQ escapes in text and parameters (&amp; last, so "&amp;#91;" stays "&#91;")."""
    return (
        text.replace("&#91;", "[").replace("&#93;", "]").replace("&#44;", ",").replace("&amp;", "&")
    )


@dataclass(slots=True)
class Parsed:
    text: str = ""
    mentions: set[str] = field(default_factory=set)  # QQ numbers at-mentioned ("all" too)
    reply_to: str | None = None  # the message id a reply segment points to
    media: bool = False  # an image, voice, file… with no text


def segments_of(message: Any) -> list[dict[str, Any]]:
    """Either form as a list of segments ({"type", "data"})."""
    if isinstance(message, list):
        return [s for s in message if isinstance(s, dict) and isinstance(s.get("type"), str)]
    if not isinstance(message, str):
        return []
    out: list[dict[str, Any]] = []
    last = 0
    for match in _CQ.finditer(message):
        if match.start() > last:
            out.append({"type": "text", "data": {"text": unescape(message[last : match.start()])}})
        data: dict[str, str] = {}
        for pair in match.group(2).split(",")[1:]:
            key, _, value = pair.partition("=")
            data[key] = unescape(value)
        out.append({"type": match.group(1), "data": data})
        last = match.end()
    if last < len(message):
        out.append({"type": "text", "data": {"text": unescape(message[last:])}})
    return out


def parse(message: Any) -> Parsed:
    parsed = Parsed()
    texts: list[str] = []
    for segment in segments_of(message):
        kind = segment["type"]
        data = segment.get("data") if isinstance(segment.get("data"), dict) else {}
        if kind == "text":
            texts.append(str(data.get("text", "")))
        elif kind == "at":
            parsed.mentions.add(str(data.get("qq", "")))
        elif kind == "reply":
            parsed.reply_to = str(data.get("id", "")) or None
        elif kind == "face":
            continue
        else:
            parsed.media = True
    parsed.text = "".join(texts).strip()
    if parsed.text:
        parsed.media = False
    return parsed


def text_message(text: str, *, reply_to: str | None = None) -> list[dict[str, Any]]:
    """What we send: text segments only (a quoted reply first, when given)."""
    out: list[dict[str, Any]] = []
    if reply_to:
        out.append({"type": "reply", "data": {"id": reply_to}})
    out.append({"type": "text", "data": {"text": text}})
    return out
