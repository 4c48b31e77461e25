"""SMS settings (prefix SMS_): the provider, its key pair, sign name and templates, receipts,
the topics texts may carry, quiet hours, the opt-out words and per-number caps.

SMS_PROVIDER=off (the default) sends nothing. aliyun (Alibaba Cloud SMS) needs the key pair,
the sign name and at least the notice template; smpp (a 106 gateway over SMPP 3.4) needs the
gateway's host, system_id, password, our 106 number and the sign name (Settings refuses a
partial set by name).
Secrets are checked by shape only and never appear in an error message.
"""

import ipaddress
import re
from datetime import time as dt_time
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.config.base import _check_http_url, _check_url_path, _Section, secret_of_shape

_KEY_ID_RE = re.compile(r"^[A-Za-z0-9]{8,64}$")  # AccessKey ID, e.g. LTAI5t…
_KEY_SECRET_RE = re.compile(r"^[A-Za-z0-9]{16,64}$")
_TEMPLATE_RE = re.compile(r"^SMS_[0-9]{6,12}$")  # Alibaba's template codes: SMS_154950909
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_TOPIC_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
# SMPP 3.4 C-octet strings, NUL included: system_id 16, password 9, system_type 13.
_SMPP_SYSTEM_ID_RE = re.compile(r"^[\x21-\x7e]{1,15}$")
_SMPP_PASSWORD_RE = re.compile(r"^[\x21-\x7e]{1,8}$")
_SMPP_SYSTEM_TYPE_RE = re.compile(r"^[\x21-\x7e]{0,12}$")
_SMPP_SOURCE_RE = re.compile(r"^[0-9]{3,20}$")  # source_addr: 21 octets, NUL included
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def _clock(text: str) -> dt_time:
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(text)
    return dt_time(int(hours), int(minutes))  # ValueError past 23:59


class SmsSettings(_Section):
    """SMS settings (prefix SMS_)."""

    model_config = SettingsConfigDict(env_prefix="SMS_")

    provider: Literal["off", "aliyun", "smpp"] = "off"
    access_key_id: str | None = None
    access_key_secret: SecretStr | None = None
    sign_name: str | None = None  # 签名, as approved: 2-12 characters, without 【】
    # Approved template codes, one per kind of message, each with one text variable.
    template_notice: str | None = None  # the client's own account, tickets, training
    template_alert: str | None = None  # risk warnings (consent needed)
    template_marketing: str | None = None  # topic broadcasts (consent needed)
    # The name of each template's one variable (${content}) and its length limit: Alibaba's
    # 35 characters unless the firm had it lifted for its templates.
    variable: str = "content"
    variable_max: int = Field(35, ge=10, le=500)
    api_base: str = "https://dysmsapi.aliyuncs.com"
    # Texts a second, as the provider allows (Alibaba's QPS for the account, the gateway's).
    rate: float = Field(20.0, gt=0, le=5_000)
    # Delivery reports and replies pushed by the provider, checked with ?token=.
    callback_path: str = "/sms/aliyun"
    callback_token: SecretStr | None = None
    # Topics that may go by SMS (the firm's provider accepts their content); none by default.
    topics: Annotated[frozenset[str], NoDecode] = frozenset()
    # No marketing SMS in these hours (TIMEZONE); they wait for the end. 21:00-08:00 by default.
    quiet_hours: str = "21:00-08:00"
    # Risk alerts are not marketing: they go at any hour unless hours are set here.
    alert_quiet_hours: str = ""
    # Without a callback token, receipts are asked for (QuerySendDetails) this often.
    poll_seconds: int = Field(60, ge=10, le=3_600)
    # The words a marketing text ends with, as carriers require.
    opt_out_text: str = "拒收请回复R"
    # Texts one number may receive (the firm's caps; the provider's own are stricter or equal).
    per_number_hour: int = Field(5, ge=1, le=100)
    per_number_day: int = Field(10, ge=1, le=1_000)
    # SMPP 3.4 (SMS_PROVIDER=smpp): the 106 gateway's address and our account there, the 106
    # number texts go from, submits in flight at once, and how often the link is checked.
    smpp_host: str | None = None
    smpp_port: int = Field(2775, ge=1, le=65_535)
    smpp_system_id: str | None = None
    smpp_password: SecretStr | None = None
    smpp_system_type: str = ""
    smpp_source_addr: str | None = None
    smpp_window: int = Field(10, ge=1, le=1_000)
    smpp_enquire_seconds: int = Field(30, ge=5, le=600)
    # Address handsets as 86 and the 11 digits (TON international), as some gateways want.
    smpp_country_code: bool = False

    @property
    def enabled(self) -> bool:
        return self.provider != "off"

    @property
    def quiet(self) -> tuple[dt_time, dt_time]:
        start, _, end = self.quiet_hours.partition("-")
        return dt_time.fromisoformat(start), dt_time.fromisoformat(end)

    @property
    def alert_quiet(self) -> tuple[dt_time, dt_time] | None:
        if not self.alert_quiet_hours:
            return None
        start, _, end = self.alert_quiet_hours.partition("-")
        return dt_time.fromisoformat(start), dt_time.fromisoformat(end)

    @field_validator("variable")
    @classmethod
    def _check_variable(cls, value: str) -> str:
        name = value.strip().removeprefix("${").removesuffix("}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
            raise ValueError("must be the template's variable name, e.g. content")
        return name

    @field_validator("provider", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("access_key_id")
    @classmethod
    def _check_key_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _KEY_ID_RE.match(value.strip()):
            raise ValueError("must be the AccessKey ID from Alibaba Cloud (letters and digits)")
        return value.strip()

    @field_validator("access_key_secret")
    @classmethod
    def _check_key_secret(cls, value: SecretStr | None) -> SecretStr | None:
        why = "must be the AccessKey Secret from Alibaba Cloud (letters, digits)"
        return secret_of_shape(value, _KEY_SECRET_RE, why)

    @field_validator("sign_name")
    @classmethod
    def _check_sign_name(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        name = value.strip().removeprefix("【").removesuffix("】").strip()
        if not 2 <= len(name) <= 12 or any(c in name for c in "【】[]"):
            raise ValueError("must be the approved sign name (签名), 2-12 characters, without 【】")
        return name

    @field_validator("template_notice", "template_alert", "template_marketing")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _TEMPLATE_RE.match(value.strip()):
            raise ValueError(f"{value.strip()[:30]!r} is not a template code like SMS_154950909")
        return value.strip()

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        return _check_http_url(value).rstrip("/")

    @field_validator("callback_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return _check_url_path(value, "/sms/aliyun")

    @field_validator("callback_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        return secret_of_shape(value, _TOKEN_RE, "must be 16-128 characters of A-Z a-z 0-9 _ -")

    @field_validator("topics", mode="before")
    @classmethod
    def _topics(cls, value: object) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else value
        topics = frozenset(str(i).strip().lower() for i in items if str(i).strip())  # type: ignore[union-attr]
        for topic in sorted(topics):
            if not _TOPIC_RE.match(topic):
                raise ValueError(f"{topic[:30]!r} is not a topic code (a-z 0-9 _ -)")
        return topics

    @field_validator("quiet_hours", "alert_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "alert_quiet_hours" and not value.strip():
            return ""
        start, sep, end = value.strip().partition("-")
        try:
            if not sep:
                raise ValueError
            times = _clock(start), _clock(end)
        except ValueError:
            raise ValueError(
                f"{value.strip()[:30]!r}: use hours like 21:00-08:00 (empty: the default)"
            ) from None
        if times[0] == times[1]:
            raise ValueError("start and end must differ, e.g. 21:00-08:00")
        return "-".join(t.strftime("%H:%M") for t in times)

    @field_validator("opt_out_text")
    @classmethod
    def _opt_out(cls, value: str) -> str:
        text = value.strip()
        if not 1 <= len(text) <= 20:
            raise ValueError("must be 1-20 characters, e.g. 拒收请回复R")
        return text

    @field_validator("smpp_host")
    @classmethod
    def _check_smpp_host(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        host = value.strip()
        try:
            return str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]")))
        except ValueError:
            pass
        if not _HOST_RE.match(host) or host.replace(".", "").isdigit():
            raise ValueError("must be the gateway's host name or IP address, without a port")
        return host

    @field_validator("smpp_system_id")
    @classmethod
    def _check_smpp_system_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _SMPP_SYSTEM_ID_RE.match(value.strip()):
            raise ValueError("must be the gateway account's system_id, 1-15 ASCII characters")
        return value.strip()

    @field_validator("smpp_password")
    @classmethod
    def _check_smpp_password(cls, value: SecretStr | None) -> SecretStr | None:
        why = "must be the gateway account's password, 1-8 ASCII characters (SMPP allows no more)"
        return secret_of_shape(value, _SMPP_PASSWORD_RE, why)

    @field_validator("smpp_system_type")
    @classmethod
    def _check_smpp_system_type(cls, value: str) -> str:
        if not _SMPP_SYSTEM_TYPE_RE.match(value.strip()):
            raise ValueError("must be 0-12 ASCII characters, as the gateway gives it (often empty)")
        return value.strip()

    @field_validator("smpp_source_addr")
    @classmethod
    def _check_smpp_source_addr(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _SMPP_SOURCE_RE.match(value.strip()):
            raise ValueError("must be the 106 number texts go from, digits only, e.g. 1069012345")
        return value.strip()
