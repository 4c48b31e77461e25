"""Backups and retention (prefix RETENTION_): how long records are kept, and when the daily
purge runs.

An advisory firm must keep its client communications and complaint records for years
(《证券投资顾问业务暂行规定》: business records at least five years), so the defaults keep
chat texts and an erased client's locked records five years; the audit log is kept forever
unless the firm sets a period. 0 keeps that kind forever. The firm's compliance officer
decides the periods; the bot only applies them."""

from datetime import time as dt_time

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config.base import _Section


class RetentionSettings(_Section):
    """Backups and retention (prefix RETENTION_)."""

    model_config = SettingsConfigDict(env_prefix="RETENTION_")

    # Years the message archive (chat texts in and out, delivery rows) is kept; 0: forever.
    messages_years: int = Field(5, ge=0, le=100)
    # Years an erased client's locked records (tickets, messages, answers) are kept after
    # the erasure; then they and the emptied file go. 0: forever.
    erased_years: int = Field(5, ge=0, le=100)
    # Years the audit log (who did what) is kept; 0: forever.
    audit_years: int = Field(0, ge=0, le=100)
    # When the daily purge runs (HH:MM in TIMEZONE): a quiet hour.
    at: str = "03:30"
    # Rows deleted per transaction: the SQLite write lock is held only that long.
    batch: int = Field(500, ge=10, le=100_000)

    @property
    def enabled(self) -> bool:
        return bool(self.messages_years or self.erased_years or self.audit_years)

    @property
    def time(self) -> dt_time:
        return dt_time.fromisoformat(self.at)

    @field_validator("at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, sep, minutes = value.strip().partition(":")
        if not (
            sep and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60
        ):
            raise ValueError(f"{value.strip()[:20]!r} is not a time like 03:30")
        return f"{int(hours):02d}:{int(minutes):02d}"
