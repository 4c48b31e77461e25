"""E-mail addresses as staff type them (settings, a client's file): one rule for all.

Plain ASCII addresses only (``local@example.com``): an internationalised address needs the
server to speak SMTPUTF8, which the relays firms use here mostly do not."""

from __future__ import annotations

import re
from email.utils import parseaddr

_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def email_address(text: str) -> str | None:
    """The address with its domain in lower case, or None when it is not one."""
    local, at, domain = text.strip().rpartition("@")
    labels = domain.split(".")
    if (
        not at
        or len(local) > 64
        or len(local) + len(domain) > 253
        or not _LOCAL.fullmatch(local)
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        return None
    return f"{local}@{domain.lower()}"


def mailbox(text: str) -> tuple[str, str] | None:
    """(display name, address) of ``国瑞投资 <reports@example.com>`` or a bare address."""
    text = text.strip()
    name, address = parseaddr(text)
    if "<" not in text:  # parseaddr would take `a b@c.d` for a name and an address
        name, address = "", text
    checked = email_address(address)
    return None if checked is None else (name.strip(), checked)
