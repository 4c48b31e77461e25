"""The desk's settings as the handlers see them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PREFIX = {"complaint": "TS", "consult": "ZX"}
CATEGORIES = ("attitude", "execution", "fees", "tech", "funds", "other")
# Mainland mobile numbers: 11 digits starting 13-19; +86 / 0086 and separators allowed.
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def mobile(text: str) -> str | None:
    """The canonical 11-digit form of a mainland mobile number, or None."""
    digits = _SEPARATORS.sub("", text.strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits if _MOBILE.fullmatch(digits) else None


@dataclass(frozen=True, slots=True)
class DeskPolicy:
    staff_chat: str | None = None
    admins: tuple[str, ...] = ()  # told when nobody else would be
    sla_minutes: dict[tuple[str, bool], int] = field(
        default_factory=lambda: {
            ("complaint", False): 240,
            ("consult", False): 480,
            ("complaint", True): 60,
            ("consult", True): 120,
        }
    )
    intake_minutes: int = 30
    reopen_days: int = 7
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def due(self, kind: str, vip: bool, opened: datetime) -> datetime:
        """First response due: wall-clock minutes, nights and weekends included."""
        return opened + timedelta(minutes=self.sla_minutes[(kind, vip)])

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
