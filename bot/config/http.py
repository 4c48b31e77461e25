"""Built-in HTTP server settings (prefix HTTP_)."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config.base import _Section


class HttpSettings(_Section):
    """Built-in HTTP server settings (prefix HTTP_)."""

    model_config = SettingsConfigDict(env_prefix="HTTP_")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _strip_host(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()
