"""Application settings, read from environment variables and an optional ``.env`` file.

Use :func:`load_settings`; it returns a frozen :class:`Settings` or raises :class:`ConfigError`
with a one-line message naming the offending environment variable.
"""

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

from bot.core.types import CHANNELS as ALL_CHANNELS
from bot.core.types import normalize_address as normalise_address

__all__ = [
    "CHANNELS",
    "ConfigError",
    "CoreSettings",
    "HttpSettings",
    "Settings",
    "TelegramSettings",
    "load_settings",
    "normalise_address",
]

# Channels an address ("<channel>:<id>") may name; see normalise_address() for the id rules.
CHANNELS: frozenset[str] = frozenset(ALL_CHANNELS)

# Accepted DATABASE_URL schemes, mapped to the async driver we actually use.
_DB_SCHEMES: dict[str, str] = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",  # the earlier spelling; statements now run inline
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_BOT_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # Telegram's secret_token rules
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})


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


def _is_in_memory_sqlite(url: str) -> bool:
    """Whether a SQLite URL names an in-memory database (no file survives a restart)."""
    try:
        parsed = make_url(url)  # the parser storage.Database uses
    except Exception:  # any parse failure; the message must not echo the URL
        raise ValueError("is not a valid SQLite URL, e.g. sqlite:///data/bot.db") from None
    query = {
        key: values if isinstance(values, tuple) else (values,)
        for key, values in parsed.query.items()
    }
    database = parsed.database or ""
    return (
        not database.strip()  # sqlite://, sqlite:/// -> SQLite opens a private in-memory database
        or ":memory:" in database  # :memory:, file::memory:
        or any(v.lower() == "memory" for v in query.get("mode", ()))  # file:x?mode=memory
        or any(v.lower() == "memdb" for v in query.get("vfs", ()))  # file:/x?vfs=memdb
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


# --- sections -----------------------------------------------------------------------------------


class CoreSettings(_Section):
    """General bot settings (no prefix)."""

    # Never shown in repr(): a PostgreSQL URL may carry a password.
    database_url: str = Field("sqlite:///data/bot.db", repr=False)
    bot_admins: Annotated[frozenset[str], NoDecode] = frozenset({"console:local"})
    firm_name: str = "国瑞投资"
    timezone: str = "Asia/Shanghai"
    default_language: Literal["zh", "en"] = "zh"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        scheme, sep, rest = value.strip().partition("://")
        if not sep:
            raise ValueError(
                "must be a URL such as sqlite:///data/bot.db"
                " or postgresql+asyncpg://user:password@host/db"
            )
        driver = _DB_SCHEMES.get(scheme.lower())
        if driver is None:
            raise ValueError(
                f"unsupported scheme {scheme[:30]!r}; use sqlite:// or postgresql+asyncpg://"
            )
        url = f"{driver}://{rest}"
        if driver.startswith("sqlite") and _is_in_memory_sqlite(url):
            raise ValueError(
                "an in-memory SQLite database loses every message at restart;"
                " give a file path, e.g. sqlite:///data/bot.db"
            )
        return url

    @field_validator("bot_admins", mode="before")
    @classmethod
    def _parse_admins(cls, value: object) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, Iterable):
            raise ValueError("must be a comma-separated list of <channel>:<id> addresses")
        return frozenset(normalise_address(str(item)) for item in items if str(item).strip())

    @field_validator("firm_name")
    @classmethod
    def _strip_firm_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known IANA time zone, e.g. Asia/Shanghai or UTC"
            ) from None
        return value

    @field_validator("default_language", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def tz(self) -> ZoneInfo:
        """TIMEZONE as a ZoneInfo object."""
        return ZoneInfo(self.timezone)


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
        path = value.strip()
        if not path.startswith("/"):
            path = "/" + path
        if any(ch.isspace() or ch in "?#" for ch in path):
            raise ValueError("must be a plain URL path such as /telegram/webhook")
        return path

    @property
    def enabled(self) -> bool:
        """Whether the Telegram channel is configured (a bot token is set)."""
        return self.bot_token is not None


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

    @field_validator("staff_chat")
    @classmethod
    def _staff_address(cls, value: str | None) -> str | None:
        return normalise_address(value) if value and value.strip() else None


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

    @field_validator("report_recipients", mode="before")
    @classmethod
    def _recipients(cls, value: object) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else value
        return frozenset(normalise_address(str(i)) for i in items if str(i).strip())  # type: ignore[union-attr]

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


# --- container ----------------------------------------------------------------------------------


class Settings(BaseModel):
    """All settings, one attribute per section."""

    model_config = ConfigDict(frozen=True)

    core: CoreSettings
    telegram: TelegramSettings
    http: HttpSettings
    desk: DeskSettings
    schedule: ScheduleSettings

    @model_validator(mode="after")
    def _check_webhook_mode(self) -> Self:
        tg = self.telegram
        if tg.mode == "webhook":
            required = {
                "TELEGRAM_BOT_TOKEN": tg.bot_token,
                "TELEGRAM_WEBHOOK_URL": tg.webhook_url,
                "TELEGRAM_WEBHOOK_SECRET": tg.webhook_secret,
            }
            for variable, value in required.items():
                if value is None:
                    raise _cross_field_error(variable, "required when TELEGRAM_MODE=webhook")
        return self

    def is_admin(self, address: str) -> bool:
        """Whether ``address`` ("<channel>:<id>", any case/spacing) is listed in BOT_ADMINS."""
        try:
            return normalise_address(address) in self.core.bot_admins
        except ValueError:
            return False


def _cross_field_error(variable: str, reason: str) -> PydanticCustomError:
    """A validation error that carries its own env var name (see _describe)."""
    return PydanticCustomError(
        "config", "{variable}: {reason}", {"variable": variable, "reason": reason}
    )


# --- loading ------------------------------------------------------------------------------------

_S = TypeVar("_S", bound=_Section)

# Short wording for pydantic's built-in error types; anything else falls back to pydantic's text.
_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "literal_error": "must be {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
}


def _is_sensitive(field: FieldInfo) -> bool:
    """Fields whose values must never appear in error messages."""
    return (
        not field.repr or field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    )


def _describe(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> ConfigError:
    """Turn the first error of ``exc`` into a ConfigError naming the environment variable."""
    error = exc.errors(include_url=False)[0]
    ctx: dict[str, Any] = error.get("ctx") or {}
    if error["type"] == "config":  # cross-field rule; names its own variable
        return ConfigError(str(ctx["variable"]), str(ctx["reason"]))
    name = str(error["loc"][0]) if error["loc"] else ""
    variable = (prefix + name).upper() or model.__name__
    if error["type"] == "value_error":  # our own validators: message already written for humans
        return ConfigError(variable, str(ctx.get("error", error["msg"])))
    template = _MESSAGES.get(error["type"])
    if template:
        # "greater than 0", not "greater than 0.0"
        ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()}
        reason = template.format(**ctx)
    else:
        reason = error["msg"][:1].lower() + error["msg"][1:]
    field = model.model_fields.get(name)
    value = error.get("input")
    if error["type"] != "missing" and field is not None and not _is_sensitive(field):
        if isinstance(value, str | int | float):
            reason += f" (got {str(value)[:60]!r})"
    return ConfigError(variable, reason)


@contextmanager
def _environ_override(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _load_section(cls: type[_S], env_file: str | Path | None) -> _S:
    try:
        return cls(_env_file=env_file)
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix") or ""
        # "from None": the pydantic error would show input values, including secrets.
        raise _describe(exc, cls, prefix) from None


def _check_env_file(env_file: str | Path | None) -> None:
    """Refuse an unreadable or non-UTF-8 ``env_file`` with a ConfigError naming it.

    A missing file (or a directory) is skipped, as pydantic-settings does.
    """
    if env_file is None:
        return
    path = Path(env_file).expanduser()
    if not path.is_file():
        return
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(env_file), "not UTF-8 (save it as UTF-8)") from None
    except OSError as exc:
        raise ConfigError(
            str(env_file), f"cannot be read ({exc.strerror or 'I/O error'})"
        ) from None


def load_settings(
    env_file: str | Path | None = ".env",
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) and ``env_file``.

    Environment variables override the file; a missing file is fine and ``None`` skips it.
    Raises ConfigError naming the first invalid variable (or the file, if it is not UTF-8).
    """
    _check_env_file(env_file)
    with _environ_override(os.environ if environ is None else environ):
        core = _load_section(CoreSettings, env_file)
        telegram = _load_section(TelegramSettings, env_file)
        http = _load_section(HttpSettings, env_file)
        desk = _load_section(DeskSettings, env_file)
        schedule = _load_section(ScheduleSettings, env_file)
    try:
        return Settings(core=core, telegram=telegram, http=http, desk=desk, schedule=schedule)
    except ValidationError as exc:
        raise _describe(exc, Settings) from None
