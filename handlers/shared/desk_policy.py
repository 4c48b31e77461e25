"""The desk's settings as the handlers see them (tickets, and the admin, client and broadcast
commands that tell the staff chat)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


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
    # The service flow: days after the account is opened by which each step is due.
    onboarding_due: dict[str, int] = field(default_factory=dict)
    # Times of day (local) coaching before the first trade is offered at, on trading days.
    coaching_times: tuple[time, ...] = (time(10, 0), time(19, 30))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def due(self, kind: str, vip: bool, opened: datetime) -> datetime:
        """First response due: wall-clock minutes, nights and weekends included."""
        return opened + timedelta(minutes=self.sla_minutes[(kind, vip)])

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
