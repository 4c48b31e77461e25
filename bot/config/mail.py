"""E-mail settings (prefix SMTP_): the relay reports go through.

SMTP_HOST unset (the default) turns e-mail off. The port follows the TLS mode unless set:
587 for STARTTLS, 465 for implicit TLS, 25 without TLS. The password is never shown."""

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config.base import _Section
from bot.core.mailboxes import mailbox

_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
PORTS = {"starttls": 587, "tls": 465, "off": 25}


class MailSettings(_Section):
    """E-mail settings (prefix SMTP_)."""

    model_config = SettingsConfigDict(env_prefix="SMTP_")

    host: str | None = None
    port: int | None = Field(None, ge=1, le=65_535)
    user: str | None = None
    password: SecretStr | None = None
    # SMTP_FROM: `from` is a Python keyword, so the field is declared through the namespace.
    __annotations__["from"] = str | None
    locals()["from"] = None
    tls: Literal["starttls", "tls", "off"] = "starttls"
    # Seconds one connection, command or reply may take before the try counts as failed.
    timeout_seconds: float = Field(30.0, gt=0, le=600)

    @property
    def enabled(self) -> bool:
        return self.host is not None

    @property
    def sender(self) -> tuple[str, str] | None:
        """(display name, address) mail goes from."""
        value: str | None = getattr(self, "from")
        return None if value is None else mailbox(value)

    @property
    def port_or_default(self) -> int:
        return self.port if self.port is not None else PORTS[self.tls]

    @field_validator("tls", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _HOST_RE.match(value.strip()):
            raise ValueError("must be the mail server's host name or IP address, without a port")
        return value.strip()

    @field_validator("user")
    @classmethod
    def _check_user(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("from")
    @classmethod
    def _check_from(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        found = mailbox(value)
        if found is None:
            raise ValueError(
                f"{value.strip()[:60]!r} is not an address like 国瑞投资 <reports@example.com>"
            )
        name, address = found
        return f"{name} <{address}>" if name else address
