"""Tickets and the advisors' desk (no prefix)."""

from pydantic import Field, field_validator

from bot.config.base import _Section
from bot.core.types import normalize_address as normalise_address


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
    # A channel failing this long without a break (Telegram unreachable, WeChat's token
    # refused, OneBot gone, the SMS provider erroring) is announced to staff on another one.
    health_down_after_seconds: int = Field(120, ge=10, le=86_400)

    @field_validator("staff_chat")
    @classmethod
    def _staff_address(cls, value: str | None) -> str | None:
        return normalise_address(value) if value and value.strip() else None
