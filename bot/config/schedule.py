"""The firm's rhythm (no prefix): notes, trading hours, training, reports and return visits."""

from datetime import time as dt_time
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from bot.config.base import _Section
from bot.core.mailboxes import email_address
from bot.core.types import normalize_address as normalise_address


class ScheduleSettings(_Section):
    """The firm's rhythm (no prefix)."""

    # Trading-day overrides the firm edits (a YAML file; created when first written).
    calendar_overrides: Path = Path("data/calendar_overrides.yaml")
    # When the morning and evening notes go out on trading days (HH:MM in TIMEZONE).
    morning_note_at: str = "08:30"
    evening_note_at: str = "20:00"
    # Staff are reminded this many minutes before a slot that has no note yet.
    note_reminder_minutes: int = Field(30, ge=1, le=720)
    # A slot missed while the bot was down is still sent this many minutes late, then not.
    schedule_grace_minutes: int = Field(30, ge=0, le=720)
    # Trading sessions in TIMEZONE (a session may run past midnight: the night session).
    trading_hours: str = "09:00-11:30,13:30-15:30,20:00-02:30"
    # The same alert text again within this many minutes is refused as a double.
    alert_dedupe_minutes: int = Field(10, ge=0, le=1_440)

    @field_validator("trading_hours")
    @classmethod
    def _sessions(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            start, sep, end = part.partition("-")
            try:
                if not sep:
                    raise ValueError
                dt_time.fromisoformat(start.strip()), dt_time.fromisoformat(end.strip())
            except ValueError:
                raise ValueError(
                    f"{part[:30]!r}: use sessions like 09:00-11:30,20:00-02:30"
                ) from None
        return value.strip()

    # Non-farm day training: invitations this many days before each release, seats, and the
    # session's place and time (TIMEZONE) as the invitation states them.
    training_invite_days: int = Field(3, ge=1, le=30)
    training_seats: int = Field(30, ge=1, le=10_000)
    training_place: str = "公司培训室"
    training_time: str = "19:30"

    # The monthly feedback report goes to these addresses (and the staff chat) on the 1st.
    report_recipients: Annotated[frozenset[str], NoDecode] = frozenset()
    report_at: str = "09:00"
    # ... and by e-mail to these (comma-separated), with the CSV and the page attached.
    report_emails: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("report_recipients", mode="before")
    @classmethod
    def _recipients(cls, value: object) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else value
        return frozenset(normalise_address(str(i)) for i in items if str(i).strip())  # type: ignore[union-attr]

    @field_validator("report_emails", mode="before")
    @classmethod
    def _emails(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        found: list[str] = []
        for item in (str(i).strip() for i in items if str(i).strip()):  # type: ignore[union-attr]
            address = email_address(item)
            if address is None:
                raise ValueError(f"{item[:60]!r} is not an e-mail address like boss@example.com")
            if address not in found:
                found.append(address)
        return tuple(found)

    # Return-visit surveys: days after a client's first contact, and the time of day they go.
    return_visit_days: Annotated[tuple[int, ...], NoDecode] = (3, 30)
    return_visit_at: str = "10:00"

    @field_validator("return_visit_days", mode="before")
    @classmethod
    def _days(cls, value: object) -> tuple[int, ...]:
        items = value.split(",") if isinstance(value, str) else value
        try:
            days = tuple(sorted({int(str(d).strip()) for d in items if str(d).strip()}))  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError("must be whole days separated by commas, e.g. 3,30") from None
        if not days or any(d < 1 or d > 365 for d in days):
            raise ValueError("must be 1 to 365 days, e.g. 3,30")
        return days

    @field_validator(
        "morning_note_at", "evening_note_at", "return_visit_at", "training_time", "report_at"
    )
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, sep, minutes = value.strip().partition(":")
        if not (
            sep and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60
        ):
            raise ValueError(f"{value.strip()[:20]!r} is not a time like 08:30")
        return f"{int(hours):02d}:{int(minutes):02d}"
