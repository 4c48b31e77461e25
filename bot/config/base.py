"""What every settings section shares: the error type, the environ source and common checks."""

import re
from collections.abc import Mapping
from contextvars import ContextVar
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.core.types import CHANNELS as ALL_CHANNELS

# Channels an address ("<channel>:<id>") may name; see normalise_address() for the id rules.
CHANNELS: frozenset[str] = frozenset(ALL_CHANNELS)


class ConfigError(Exception):
    """Invalid configuration; ``str()`` is one line: ``"<ENV_VAR>: <what is wrong>"``."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = " ".join(reason.split())  # guarantee a single line
        super().__init__(f"{variable}: {self.reason}")


def _check_http_url(value: str) -> str:
    """Strip and validate an absolute http(s) URL; never echoes the value."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def _check_url_path(value: str, example: str) -> str:
    """Strip a local URL path and give it a leading ``/``; refuse spaces, ``?`` and ``#``."""
    path = value.strip()
    if not path.startswith("/"):
        path = "/" + path
    if any(ch.isspace() or ch in "?#" for ch in path):
        raise ValueError(f"must be a plain URL path such as {example}")
    return path


def stripped(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value().strip()


def secret_of_shape(value: SecretStr | None, shape: re.Pattern[str], why: str) -> SecretStr | None:
    """A secret (a token, a key) stripped and checked against the shape the platform gives
    it; the error says what it should be, never what was given."""
    secret = stripped(value)
    if secret is None:
        return None
    if not shape.match(secret):
        raise ValueError(why)
    return SecretStr(secret)


def _cross_field_error(variable: str, reason: str) -> PydanticCustomError:
    """A validation error that carries its own env var name (see _describe)."""
    return PydanticCustomError(
        "config", "{variable}: {reason}", {"variable": variable, "reason": reason}
    )


# --- sources ------------------------------------------------------------------------------------

# Set by load_settings() so sections read its environ mapping (os.environ or a test dict).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("bot_config_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """Environment-variable source backed by an arbitrary mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # needed by _load_env_vars(), which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            key if self.case_sensitive else key.lower(): value
            for key, value in self._environ.items()
            if not (self.env_ignore_empty and value == "")
        }


class _Section(BaseSettings):
    """Common behaviour of all settings sections."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",  # the shared .env file holds other sections' variables too
        env_ignore_empty=True,  # FOO= means "use the default"
        env_file_encoding="utf-8",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is not None:
            env_settings = _MappingEnvSource(settings_cls, environ)
        # Earlier wins: explicit kwargs, then environment, then .env file.
        return init_settings, env_settings, dotenv_settings, file_secret_settings
