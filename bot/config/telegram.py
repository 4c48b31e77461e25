"""Telegram channel settings (prefix TELEGRAM_)."""

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config.base import _check_http_url, _check_url_path, _Section

_BOT_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # Telegram's secret_token rules
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})


class TelegramSettings(_Section):
    """Telegram channel settings (prefix TELEGRAM_)."""

    model_config = SettingsConfigDict(env_prefix="TELEGRAM_")

    bot_token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    # Telegram's limits (1000/s only with paid broadcasts); every one is kept exactly.
    rate_limit: float = Field(30.0, ge=1, le=1000, allow_inf_nan=False)  # messages/s, all chats
    chat_interval: float = Field(1.0, ge=0, le=60, allow_inf_nan=False)  # seconds, one chat
    group_per_minute: int = Field(20, ge=1, le=60)  # messages/minute to one group
    max_in_flight: int = Field(64, ge=1, le=512)  # sends under way at once

    @field_validator("bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if not _BOT_TOKEN_RE.match(token):
            raise ValueError(
                "does not look like a Bot API token (<digits>:<token> from @BotFather)"
            )
        return SecretStr(token)

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        return _check_http_url(value).rstrip("/")

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _check_http_url(value)
        parts = urlsplit(value)
        if parts.scheme != "https" and parts.hostname not in _LOCAL_HOSTS:
            raise ValueError("must use https:// (plain http is only allowed for localhost)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET_RE.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _check_webhook_path(cls, value: str) -> str:
        return _check_url_path(value, "/telegram/webhook")

    @property
    def enabled(self) -> bool:
        """Whether the Telegram channel is configured (a bot token is set)."""
        return self.bot_token is not None
