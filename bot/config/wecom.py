"""WeCom (企业微信) settings (prefix WECOM_): the firm's WeChat Customer Service (微信客服).

The channel is on when WECOM_CORP_ID, WECOM_KF_SECRET, WECOM_KF_ID, WECOM_TOKEN and
WECOM_ENCODING_AES_KEY are all set (Settings refuses a partial set): WeCom's callbacks are
always encrypted. Secrets are checked by shape only and never appear in an error message.
"""

import re

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config.base import _check_http_url, _check_url_path, _Section, secret_of_shape
from bot.config.wechat import aes_key

_CORP_ID_RE = re.compile(r"^w[wx][0-9A-Za-z]{16}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_KF_ID_RE = re.compile(r"^wk[0-9A-Za-z_-]{8,62}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")  # WeCom: letters or digits, at most 32


class WecomSettings(_Section):
    """WeCom settings (prefix WECOM_)."""

    model_config = SettingsConfigDict(env_prefix="WECOM_")

    corp_id: str | None = None  # 企业ID (My Company → Company Information)
    kf_secret: SecretStr | None = None  # the Secret of 微信客服 (or of the app it is given to)
    kf_id: str | None = None  # the customer-service account's open_kfid (wk…)
    token: SecretStr | None = None  # the callback's Token
    encoding_aes_key: SecretStr | None = None  # the callback's EncodingAESKey
    # The Secret of 客户联系 (customer contact): clients adding advisors are linked and welcomed.
    contact_secret: SecretStr | None = None
    api_base: str = "https://qyapi.weixin.qq.com"
    webhook_path: str = "/wecom"
    # A callback whose timestamp is further than this from now is refused (replay guard).
    max_clock_skew_seconds: int = Field(300, ge=10, le=3600)
    # Messages WeCom allows after a client's message: 5 within 48 hours.
    window_hours: float = Field(48, gt=0, le=48)
    window_messages: int = Field(5, ge=1, le=20)
    # How long an advisor has to confirm a group message in WeCom before its clients are
    # tried on another route: a push, and a risk alert (urgent).
    group_confirm_hours: float = Field(12, gt=0, le=72, allow_inf_nan=False)
    alert_confirm_minutes: int = Field(30, ge=1, le=720)
    rate_limit: float = Field(100.0, ge=1, le=1000, allow_inf_nan=False)  # sends per second
    max_in_flight: int = Field(32, ge=1, le=256)

    @field_validator("corp_id")
    @classmethod
    def _check_corp_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _CORP_ID_RE.match(value.strip()):
            raise ValueError("must be the corp ID from WeCom's admin pages: ww and 16 characters")
        return value.strip()

    @field_validator("kf_id")
    @classmethod
    def _check_kf_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _KF_ID_RE.match(value.strip()):
            raise ValueError("must be the customer-service account's open_kfid (wk…)")
        return value.strip()

    @field_validator("kf_secret", "contact_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        why = "must be the Secret from WeCom's admin pages (letters, digits, - _)"
        return secret_of_shape(value, _SECRET_RE, why)

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        why = "must be the callback's Token: 1-32 letters or digits"
        return secret_of_shape(value, _TOKEN_RE, why)

    @field_validator("encoding_aes_key")
    @classmethod
    def _check_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        return aes_key(value, "of the callback")

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        return _check_http_url(value).rstrip("/")

    @field_validator("webhook_path")
    @classmethod
    def _check_webhook_path(cls, value: str) -> str:
        return _check_url_path(value, "/wecom")

    @property
    def enabled(self) -> bool:
        """Whether 微信客服 is configured (all five settings are set)."""
        return None not in (
            self.corp_id, self.kf_secret, self.kf_id, self.token, self.encoding_aes_key,
        )  # fmt: skip
