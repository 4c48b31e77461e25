"""The staff console (no prefix; STAFF_CONSOLE and STAFF_CONSOLE_*): web pages for staff and
advisors on the app's one HTTP server, at STAFF_CONSOLE_PATH. Off unless STAFF_CONSOLE=on;
accounts come from `python -m bot staff add`."""

from typing import Literal

from pydantic import Field, field_validator

from bot.config.base import _check_url_path, _Section


class StaffConsoleSettings(_Section):
    """The staff console (STAFF_CONSOLE=on|off and STAFF_CONSOLE_*)."""

    staff_console: Literal["on", "off"] = "off"
    staff_console_path: str = "/staff"
    # A session unused this long, or this old, must sign in again.
    staff_console_idle_minutes: int = Field(30, ge=1, le=1_440)
    staff_console_max_hours: int = Field(12, ge=1, le=168)
    # The cookie's Secure flag: "auto" sets it when the request came over HTTPS (directly or
    # as the reverse proxy's X-Forwarded-Proto says).
    staff_console_secure_cookie: Literal["auto", "on", "off"] = "auto"
    # Sessions in Redis (redis://host:6379/0) instead of the database.
    staff_console_redis_url: str | None = None

    @property
    def on(self) -> bool:
        return self.staff_console == "on"

    @property
    def path(self) -> str:
        return self.staff_console_path

    @field_validator("staff_console_redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value.strip()

    @field_validator("staff_console_path")
    @classmethod
    def _plain_path(cls, value: str) -> str:
        path = _check_url_path(value, "/staff").rstrip("/")
        if not path:
            raise ValueError("must not be / itself: the console needs a path of its own")
        return path
