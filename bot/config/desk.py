"""Tickets and the advisors' desk (no prefix)."""

from datetime import time as dt_time

from pydantic import Field, field_validator

from bot.config.base import _Section
from bot.core.types import normalize_address as normalise_address
from storage.records import ONBOARDING_STEPS

# Days after the account is opened by which each later step of the service flow is due.
ONBOARDING_DUE = "custody=1,software=2,coaching=3,advisor=1,code_sent=1,visit=10,file=14,segment=14"


class DeskSettings(_Section):
    """Tickets and the advisors' desk (no prefix)."""

    # Where new tickets and SLA breaches are announced: any address, e.g. a staff group.
    staff_chat: str | None = None
    # First response due within (minutes), by ticket type and tier.
    ticket_sla_complaint_minutes: int = Field(240, ge=1, le=43_200)
    ticket_sla_consult_minutes: int = Field(480, ge=1, le=43_200)
    ticket_sla_vip_complaint_minutes: int = Field(60, ge=1, le=43_200)
    ticket_sla_vip_consult_minutes: int = Field(120, ge=1, le=43_200)
    # A complaint form left unfinished this long is dropped (the client is told).
    ticket_intake_minutes: int = Field(30, ge=1, le=1_440)
    # A resolved ticket may be reopened by the client this long, then closes by itself.
    ticket_reopen_days: int = Field(7, ge=1, le=90)
    # Times of day coaching before the first trade is offered at, on trading days.
    onboarding_coaching_times: str = "10:00,19:30"
    # The service flow's due days per step after the account is opened (STEP=DAYS, …).
    onboarding_due_days: str = ONBOARDING_DUE

    @property
    def onboarding_due(self) -> dict[str, int]:
        pairs = (item.split("=") for item in self.onboarding_due_days.split(",") if item)
        return {step.strip(): int(days) for step, days in pairs}

    @property
    def coaching_times(self) -> tuple[dt_time, ...]:
        return tuple(dt_time.fromisoformat(x) for x in self.onboarding_coaching_times.split(","))

    @field_validator("onboarding_coaching_times")
    @classmethod
    def _coaching_times(cls, value: str) -> str:
        times = []
        for item in (i.strip() for i in value.replace("，", ",").split(",") if i.strip()):
            try:
                hours, minutes = item.split(":")
                times.append(dt_time(int(hours), int(minutes)))
            except ValueError:
                raise ValueError(f"{item[:20]!r}: use times like 10:00,19:30") from None
        if not 1 <= len(times) <= 8:
            raise ValueError("give one to eight times, like 10:00,19:30")
        return ",".join(x.strftime("%H:%M") for x in sorted(set(times)))

    @field_validator("onboarding_due_days")
    @classmethod
    def _due_days(cls, value: str) -> str:
        later = ONBOARDING_STEPS[1:]
        found: dict[str, int] = {}
        for item in (i.strip() for i in value.replace("，", ",").split(",") if i.strip()):
            step, sep, days = item.partition("=")
            step = step.strip().lower()
            if not sep or step not in later or not days.strip().isdigit():
                raise ValueError(
                    f"{item[:30]!r}: use STEP=DAYS with STEP one of {', '.join(later)}"
                )
            if not 0 <= int(days) <= 365:
                raise ValueError(f"{item[:30]!r}: 0 to 365 days")
            found[step] = int(days)
        defaults = dict(i.split("=") for i in ONBOARDING_DUE.split(","))
        return ",".join(f"{s}={found.get(s, defaults[s])}" for s in later)

    # A channel failing this long without a break (Telegram unreachable, WeChat's token
    # refused, OneBot gone, the SMS provider erroring) is announced to staff on another one.
    health_down_after_seconds: int = Field(120, ge=10, le=86_400)

    @field_validator("staff_chat")
    @classmethod
    def _staff_address(cls, value: str | None) -> str | None:
        return normalise_address(value) if value and value.strip() else None
