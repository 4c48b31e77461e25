"""WeChat's XML, read defensively and written safely.

xmltodict 1.0 refuses entities (no XXE, no entity expansion); on top of that a body is
size-capped, must be one <xml> element of flat text fields, and any parser failure is a 400.
"""

from __future__ import annotations

from typing import Any

import xmltodict

from bot.channels.wechat.crypto import Refused

MAX_BODY = 64 * 1024  # WeChat's messages are a few hundred bytes
MAX_FIELD = 16 * 1024


def read(body: bytes | str) -> dict[str, str]:
    """The fields of `<xml>…</xml>` as text; Refused(400) for anything else."""
    if len(body) > MAX_BODY:
        raise Refused(413, "body too large")
    try:
        root = xmltodict.parse(body, disable_entities=True)
    except Exception:  # ExpatError, ValueError (entities), encoding trouble: not WeChat's
        raise Refused(400, "malformed XML") from None
    fields = root.get("xml") if isinstance(root, dict) else None
    if not isinstance(fields, dict):
        raise Refused(400, "not a WeChat message")
    out: dict[str, str] = {}
    for key, value in fields.items():
        text = _text(value)
        if text is not None:
            out[str(key)] = text[:MAX_FIELD]
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return None  # nested elements (rich media descriptions) are not needed


def cdata(value: str) -> str:
    """`value` inside CDATA, even if it contains the CDATA terminator."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, text: str, now: int) -> str:
    """A passive text reply."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(text)}</Content></xml>"
    )
