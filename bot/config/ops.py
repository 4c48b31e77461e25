"""Operations (no prefix): the metrics endpoint and the log format. /healthz and /readyz are
always on the HTTP server; /metrics only with METRICS=on, behind METRICS_TOKEN when set.
LOG_FORMAT=json writes one JSON object a line; LOG_PERSONAL=on lets logs carry what people
wrote and their phone numbers (off: hidden, and phone-like numbers masked in JSON lines)."""

import re
from typing import Literal

from pydantic import SecretStr, field_validator

from bot.config.base import _Section, secret_of_shape

# Sent as an HTTP header: printable ASCII without spaces, long enough not to be guessed.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]{16,200}$")


class OpsSettings(_Section):
    """Health, metrics and logs (METRICS, METRICS_TOKEN, LOG_FORMAT, LOG_PERSONAL)."""

    metrics: Literal["on", "off"] = "off"
    metrics_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"
    log_personal: Literal["on", "off"] = "off"

    @property
    def metrics_on(self) -> bool:
        return self.metrics == "on"

    @property
    def personal(self) -> bool:
        return self.log_personal == "on"

    @field_validator("metrics", "log_format", "log_personal", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("metrics_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        why = "must be 16 to 200 printable characters without spaces"
        return secret_of_shape(value, _TOKEN_RE, why)
