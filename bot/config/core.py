"""General bot settings (no prefix) and the DATABASE_URL rules."""

from collections.abc import Iterable
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import NoDecode
from sqlalchemy.engine import make_url

from bot.config.base import _Section
from bot.core.types import normalize_address as normalise_address

# Accepted DATABASE_URL schemes, mapped to the async driver we actually use.
_DB_SCHEMES: dict[str, str] = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",  # the earlier spelling; statements now run inline
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


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


class CoreSettings(_Section):
    """General bot settings (no prefix)."""

    # Never shown in repr(): a PostgreSQL URL may carry a password.
    database_url: str = Field("sqlite:///data/bot.db", repr=False)
    bot_admins: Annotated[frozenset[str], NoDecode] = frozenset({"console:local"})
    firm_name: str = "国瑞投资"
    timezone: str = "Asia/Shanghai"
    default_language: Literal["zh", "en"] = "zh"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Several processes on one PostgreSQL database: one delivers per channel and each takes
    # over what a dead one left once its lease ran out (renewed every third of it). Shorter
    # means a faster failover and more renewal writes; a lease below a few seconds would be
    # lost to a garbage collection or a slow commit.
    lease_seconds: float = Field(15.0, ge=3, le=600, allow_inf_nan=False)
    # PostgreSQL connections each process keeps open, and how many more it may open under
    # load (SQLite ignores both); a request waits this long for one before it fails.
    database_pool_size: int = Field(5, ge=1, le=100)
    database_max_overflow: int = Field(10, ge=0, le=1000)
    database_pool_timeout: float = Field(30.0, gt=0, le=600, allow_inf_nan=False)

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
