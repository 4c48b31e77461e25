"""One MIME message from a subject, a plain-text body and files.

The standard library's default policy does the encoding: a Chinese subject or display name
becomes RFC 2047 encoded words, a non-ASCII file name an RFC 2231 parameter, and the body
UTF-8 (base64 or quoted-printable, whichever is shorter)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    data: bytes
    type: str = "application/octet-stream"  # maintype/subtype

    @classmethod
    def of(cls, file: dict[str, str]) -> Attachment:
        """From a stored `{"name", "type", "text"}`: text goes as UTF-8 (a CSV with its BOM,
        so spreadsheet programs read the Chinese right)."""
        kind = file.get("type") or "text/plain"
        return cls(file["name"], file["text"].encode("utf-8"), kind)


def _address(text: str) -> Address:
    local, _, domain = text.rpartition("@")
    return Address(username=local, domain=domain)


def compose(
    sender: tuple[str, str],
    recipients: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Attachment] = (),
    *,
    now: dt.datetime | None = None,
) -> EmailMessage:
    name, address = sender
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = [_address(r) for r in recipients]
    message["Subject"] = subject
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    message.set_content(body)
    for file in attachments:
        maintype, _, subtype = file.type.partition("/")
        params = {"charset": "utf-8"} if maintype == "text" else {}
        message.add_attachment(
            file.data, maintype, subtype or "octet-stream", filename=file.name, params=params
        )
    return message
