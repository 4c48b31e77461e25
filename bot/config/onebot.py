"""QQ over OneBot v11 settings (prefix ONEBOT_).

`ONEBOT_MODE=reverse`: the OneBot implementation (NapCat, Lagrange, LLOneBot…) connects to
the bot's HTTP server at ONEBOT_WS_PATH, with ONEBOT_ACCESS_TOKEN (required: an open socket
would let anyone speak as the QQ account). `ONEBOT_MODE=forward`: the bot connects out to
ONEBOT_WS_URL and reconnects with backoff.
"""

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config.base import _check_url_path, _Section

Handling = Literal["accept", "ignore", "ask"]


class OnebotSettings(_Section):
    """QQ over OneBot v11 (prefix ONEBOT_)."""

    model_config = SettingsConfigDict(env_prefix="ONEBOT_")

    mode: Literal["off", "reverse", "forward"] = "off"
    access_token: SecretStr | None = None
    ws_path: str = "/onebot/v11/ws"  # reverse: where the implementation connects
    ws_url: str | None = None  # forward: where the implementation listens
    # Seconds without any frame (heartbeats included) after which a connection is gone.
    # (At least 2.5 heartbeat intervals, once the implementation's heartbeats say how long.)
    heartbeat_timeout_seconds: float = Field(60.0, ge=1, le=600, allow_inf_nan=False)
    action_timeout_seconds: float = Field(10.0, ge=1, le=120, allow_inf_nan=False)
    # QQ bans accounts that post in bursts: group messages are spaced, whatever the groups,
    group_interval_seconds: float = Field(1.5, ge=0, le=60, allow_inf_nan=False)
    group_jitter_seconds: float = Field(0.5, ge=0, le=30, allow_inf_nan=False)
    # and private messages are paced overall and per person.
    private_rate: float = Field(2.0, ge=0.1, le=20, allow_inf_nan=False)  # messages/s
    private_interval_seconds: float = Field(1.0, ge=0, le=60, allow_inf_nan=False)
    # In groups the bot answers only when at-mentioned or when a message starts with this.
    group_prefix: str = "/"
    friend_requests: Handling = "ask"
    group_invites: Handling = "ask"
    max_frame_bytes: int = Field(1 << 20, ge=1024, le=64 << 20)

    @field_validator("mode", "friend_requests", "group_invites", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("ws_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return _check_url_path(value, "/onebot/v11/ws")

    @field_validator("ws_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("ws://", "wss://")) or len(value) < 8:
            raise ValueError("must be a ws:// or wss:// URL, e.g. ws://127.0.0.1:3001")
        return value

    @property
    def enabled(self) -> bool:
        return self.mode != "off"
