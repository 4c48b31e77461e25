"""The Settings container, load_settings() and the one-line error messages."""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo

from bot.config.base import _ENVIRON, ConfigError, _cross_field_error, _Section
from bot.config.core import CoreSettings
from bot.config.desk import DeskSettings
from bot.config.faq import FaqSettings
from bot.config.http import HttpSettings
from bot.config.mail import MailSettings
from bot.config.onebot import OnebotSettings
from bot.config.ops import OpsSettings
from bot.config.retention import RetentionSettings
from bot.config.schedule import ScheduleSettings
from bot.config.sms import SmsSettings
from bot.config.staff_console import StaffConsoleSettings
from bot.config.telegram import TelegramSettings
from bot.config.wechat import WechatSettings
from bot.config.wecom import WecomSettings
from bot.core.types import normalize_address as normalise_address

# --- container ----------------------------------------------------------------------------------


def _require(values: dict[str, object], when: str) -> None:
    """The first of `values` (setting name -> value) that is unset, refused by name."""
    for variable, value in values.items():
        if value is None:
            raise _cross_field_error(variable, f"required when {when}")


class Settings(BaseModel):
    """All settings, one attribute per section.

    The fields below are the one list of sections: SECTIONS is read from them, and
    load_settings() loads each in this order (so the first bad variable is reported first).
    """

    model_config = ConfigDict(frozen=True)

    core: CoreSettings
    telegram: TelegramSettings
    http: HttpSettings
    desk: DeskSettings
    schedule: ScheduleSettings
    wechat: WechatSettings
    wecom: WecomSettings
    onebot: OnebotSettings
    faq: FaqSettings
    staff_console: StaffConsoleSettings
    sms: SmsSettings
    mail: MailSettings
    ops: OpsSettings
    retention: RetentionSettings

    @model_validator(mode="after")
    def _check_webhook_mode(self) -> Self:
        tg = self.telegram
        if tg.mode == "webhook":
            required = {
                "TELEGRAM_BOT_TOKEN": tg.bot_token,
                "TELEGRAM_WEBHOOK_URL": tg.webhook_url,
                "TELEGRAM_WEBHOOK_SECRET": tg.webhook_secret,
            }
            _require(required, "TELEGRAM_MODE=webhook")
        return self

    @model_validator(mode="after")
    def _check_wechat_credentials(self) -> Self:
        wx = self.wechat
        required = {
            "WECHAT_TOKEN": wx.token,
            "WECHAT_APP_ID": wx.app_id,
            "WECHAT_APP_SECRET": wx.app_secret,
        }
        given = {**required, "WECHAT_ENCODING_AES_KEY": wx.encoding_aes_key}
        trigger = next((variable for variable, value in given.items() if value is not None), None)
        if trigger is not None:  # half a WeChat setup would fail only at the first message
            for variable, value in required.items():
                if value is None:
                    raise _cross_field_error(variable, f"required when {trigger} is set")
        return self

    @model_validator(mode="after")
    def _check_wecom_credentials(self) -> Self:
        wc = self.wecom
        required = {
            "WECOM_CORP_ID": wc.corp_id,
            "WECOM_KF_SECRET": wc.kf_secret,
            "WECOM_KF_ID": wc.kf_id,
            "WECOM_TOKEN": wc.token,
            "WECOM_ENCODING_AES_KEY": wc.encoding_aes_key,
        }
        trigger = next(
            (variable for variable, value in required.items() if value is not None), None
        )
        if trigger is not None:  # half a WeCom setup would fail only at the first message
            for variable, value in required.items():
                if value is None:
                    raise _cross_field_error(variable, f"required when {trigger} is set")
        return self

    @model_validator(mode="after")
    def _check_onebot(self) -> Self:
        ob = self.onebot
        if ob.mode == "reverse" and ob.access_token is None:
            raise _cross_field_error(
                "ONEBOT_ACCESS_TOKEN", "required when ONEBOT_MODE=reverse (anyone could connect)"
            )
        if ob.mode == "forward" and ob.ws_url is None:
            raise _cross_field_error("ONEBOT_WS_URL", "required when ONEBOT_MODE=forward")
        return self

    @model_validator(mode="after")
    def _check_sms(self) -> Self:
        sms = self.sms
        if sms.provider == "aliyun":  # a text refused at the first send would be lost news
            required = {
                "SMS_ACCESS_KEY_ID": sms.access_key_id,
                "SMS_ACCESS_KEY_SECRET": sms.access_key_secret,
                "SMS_SIGN_NAME": sms.sign_name,
                "SMS_TEMPLATE_NOTICE": sms.template_notice,
            }
            _require(required, "SMS_PROVIDER=aliyun")
        if sms.provider == "smpp":  # the same: a bind that cannot happen loses every text
            required = {
                "SMS_SMPP_HOST": sms.smpp_host,
                "SMS_SMPP_SYSTEM_ID": sms.smpp_system_id,
                "SMS_SMPP_PASSWORD": sms.smpp_password,
                "SMS_SMPP_SOURCE_ADDR": sms.smpp_source_addr,
                "SMS_SIGN_NAME": sms.sign_name,
            }
            _require(required, "SMS_PROVIDER=smpp")
        return self

    @model_validator(mode="after")
    def _check_mail(self) -> Self:
        mail = self.mail
        if self.schedule.report_emails and not mail.enabled:  # reports would go nowhere
            raise _cross_field_error("REPORT_EMAILS", "needs SMTP_HOST (e-mail is off without it)")
        if mail.enabled and mail.sender is None:
            raise _cross_field_error("SMTP_FROM", "required when SMTP_HOST is set")
        if (mail.user is None) != (mail.password is None):
            missing = "SMTP_PASSWORD" if mail.password is None else "SMTP_USER"
            given = "SMTP_USER" if mail.password is None else "SMTP_PASSWORD"
            raise _cross_field_error(missing, f"required when {given} is set")
        return self

    @model_validator(mode="after")
    def _check_paths(self) -> Self:
        """Channels share one HTTP server: each needs its own path, and none is /healthz,
        /readyz or /metrics."""
        mounted = [
            ("TELEGRAM_WEBHOOK_PATH", self.telegram.webhook_path, self.telegram.mode == "webhook"),
            ("WECHAT_WEBHOOK_PATH", self.wechat.webhook_path, self.wechat.enabled),
            ("WECOM_WEBHOOK_PATH", self.wecom.webhook_path, self.wecom.enabled),
            ("ONEBOT_WS_PATH", self.onebot.ws_path, self.onebot.mode == "reverse"),
            ("SMS_CALLBACK_PATH", self.sms.callback_path, self.sms.provider == "aliyun"),
        ]
        taken: dict[str, str] = {}
        for variable, path, used in mounted:
            if not used:
                continue
            path = path.rstrip("/")
            if path in ("/healthz", "/readyz", "/metrics"):
                raise _cross_field_error(variable, f"{path} is the server's own (health, metrics)")
            if path in taken:
                raise _cross_field_error(
                    variable, f"must differ from {taken[path]} (one HTTP server)"
                )
            taken[path] = variable
        return self

    def is_admin(self, address: str) -> bool:
        """Whether ``address`` ("<channel>:<id>", any case/spacing) is listed in BOT_ADMINS."""
        try:
            return normalise_address(address) in self.core.bot_admins
        except ValueError:
            return False


def _sections() -> Mapping[str, type[_Section]]:
    sections: dict[str, type[_Section]] = {}
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if not (isinstance(section, type) and issubclass(section, _Section)):
            raise TypeError(f"Settings.{name} must be a settings section, not {section!r}")
        sections[name] = section
    return MappingProxyType(sections)


# Attribute name -> section class, in load order: {"core": CoreSettings, ..., "wechat": ...}.
SECTIONS: Mapping[str, type[_Section]] = _sections()


# --- loading ------------------------------------------------------------------------------------

_S = TypeVar("_S", bound=_Section)

# Short wording for pydantic's built-in error types; anything else falls back to pydantic's text.
_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "bool_parsing": "must be on or off",
    "bool_type": "must be on or off",
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
        sections = {name: _load_section(cls, env_file) for name, cls in SECTIONS.items()}
    try:
        return Settings(**sections)
    except ValidationError as exc:
        raise _describe(exc, Settings) from None
