"""WeChat official-account settings (prefix WECHAT_).

The channel is on when WECHAT_TOKEN, WECHAT_APP_ID and WECHAT_APP_SECRET are all set (Settings
refuses a partial set). Secrets are checked by shape only and never appear in an error message.
"""

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.config.base import _check_http_url, _check_url_path, _Section, secret_of_shape, stripped

_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")  # the official account's rule for the Token
_APP_ID_RE = re.compile(r"^wx[0-9A-Za-z]{16}$")
_APP_SECRET_RE = re.compile(r"^[A-Za-z0-9]{32}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9+/]{43}$")  # base64 of a 32-byte key, "=" dropped
_TEMPLATE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TEMPLATE_FIELD_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def aes_key(value: SecretStr | None, where: str) -> SecretStr | None:
    """An EncodingAESKey (base64 of 32 bytes, "=" dropped), stripped; never echoed."""
    key = stripped(value)
    if key is None:
        return None
    try:
        ok = bool(_AES_KEY_RE.match(key)) and len(base64.b64decode(key + "=")) == 32
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"must be the 43-character EncodingAESKey {where}")
    return SecretStr(key)


class WechatSettings(_Section):
    """WeChat official-account settings (prefix WECHAT_)."""

    model_config = SettingsConfigDict(env_prefix="WECHAT_")

    # The Token set in the official account; signs every webhook call.
    token: SecretStr | None = None
    app_id: str | None = None
    app_secret: SecretStr | None = None
    # Set only in safe mode: messages arrive (and passive replies go) AES-encrypted.
    encoding_aes_key: SecretStr | None = None
    api_base: str = "https://api.weixin.qq.com"
    webhook_path: str = "/wechat"
    # A message whose timestamp is further than this from now is refused (replay guard).
    max_clock_skew_seconds: int = Field(300, ge=10, le=3600)
    # WeChat waits 5 s for a passive reply; after this long the webhook answers "success" and
    # the reply goes through the customer-service API instead (0: always that way).
    passive_seconds: float = Field(4.0, ge=0, le=4.5, allow_inf_nan=False)
    # Customer-service messages WeChat allows (since 2023) after a client's message: 5 in 48 h,
    window_hours: float = Field(48, gt=0, le=48)
    window_messages: int = Field(5, ge=1, le=20)
    # and after a menu click or a follow: 3 within a minute.
    event_window_seconds: int = Field(60, ge=1, le=3600)
    event_window_messages: int = Field(3, ge=1, le=20)
    # Outside the window only a template message may go, and only for service notices.
    service_template_id: str | None = None
    service_template_field: str = "content"  # the template's data field that gets the text
    # Sends per second, passive replies included (WeChat's API has daily quotas rather than a
    # rate; a low figure here would hold back the answers WeChat is waiting for).
    rate_limit: float = Field(500.0, ge=1, le=1000, allow_inf_nan=False)
    max_in_flight: int = Field(64, ge=1, le=256)  # sends under way at once
    # 服务号 (service) or 订阅号 (subscription): a service account reaches followers outside
    # the window by mass sends to an OpenID list, each follower receiving at most 4 a month.
    account_type: Literal["service", "subscription"] = "service"
    # The topics whose pushes may spend one of those 4 (staff may still decline per broadcast);
    # empty: never a mass send.
    mass_topics: Annotated[frozenset[str], NoDecode] = frozenset(
        {"morning", "evening", "risk", "training"}
    )

    @field_validator("mass_topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            keys = {part.strip().lower() for part in value.replace("，", ",").split(",")}
            if any(k and not re.fullmatch(r"[a-z0-9_]{1,30}", k) for k in keys):
                raise ValueError("must be topic keys separated by commas, e.g. morning,risk")
            return frozenset(k for k in keys if k)
        return value

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        return secret_of_shape(
            value, _TOKEN_RE,
            "must be the Token from the official account's settings:"
            " 3-32 characters of A-Z, a-z and 0-9",
        )  # fmt: skip

    @field_validator("app_id")
    @classmethod
    def _check_app_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Not echoed either: an AppSecret pasted here by mistake must not reach the logs.
        if not _APP_ID_RE.match(value.strip()):
            raise ValueError(
                "must be the AppID from the official account's settings:"
                " wx followed by 16 letters or digits"
            )
        return value.strip()

    @field_validator("app_secret")
    @classmethod
    def _check_app_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return secret_of_shape(
            value, _APP_SECRET_RE,
            "must be the 32-character AppSecret (A-Z, a-z, 0-9) from the official account's"
            " settings",
        )  # fmt: skip

    @field_validator("encoding_aes_key")
    @classmethod
    def _check_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        return aes_key(value, "from the official account's settings")

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        return _check_http_url(value).rstrip("/")

    @field_validator("webhook_path")
    @classmethod
    def _check_webhook_path(cls, value: str) -> str:
        return _check_url_path(value, "/wechat")

    @field_validator("service_template_id")
    @classmethod
    def _check_template_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _TEMPLATE_ID_RE.match(value.strip()):
            raise ValueError("must be a template id from the official account's templates")
        return value.strip()

    @field_validator("service_template_field")
    @classmethod
    def _check_template_field(cls, value: str) -> str:
        if not _TEMPLATE_FIELD_RE.match(value.strip()):
            raise ValueError(
                "must be 1-32 characters of A-Z, a-z, 0-9 and _ (a field of the template)"
            )
        return value.strip()

    @property
    def enabled(self) -> bool:
        """Whether the WeChat channel is configured (token, AppID and AppSecret are set)."""
        return None not in (self.token, self.app_id, self.app_secret)

    @property
    def safe_mode(self) -> bool:
        """Whether messages are AES-encrypted (WECHAT_ENCODING_AES_KEY is set)."""
        return self.encoding_aes_key is not None
