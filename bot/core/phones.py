"""Mainland mobile numbers as people type them (a complaint's contact, a client's file, an
import, an advisor's note) and as SMS addresses (``sms:13912345678``): one rule for all."""

from __future__ import annotations

import re

# 11 digits starting 13-19; +86 / 0086 / 86 and separators allowed.
_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # used with fullmatch(); ASCII digits only
_SEPARATORS = re.compile(r"[\s\-()（）]")


def mobile(text: str) -> str | None:
    """The canonical 11-digit form of a mainland mobile number, or None."""
    digits = _SEPARATORS.sub("", text.strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits if _MOBILE.fullmatch(digits) else None
