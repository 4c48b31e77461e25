"""SMS settings (prefix SMS_): defaults, values refused by name, the aliyun and smpp cross-field
rules."""

from datetime import time

import pytest
from pydantic import SecretStr

from bot.config import ConfigError, Settings, load_settings

KEY_ID = "LTAI5tAbCdEfGhIj1234"
KEY_SECRET = "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI"
TOKEN = "callback-Token_0123456789"
ALIYUN = {
    "SMS_PROVIDER": "aliyun",
    "SMS_ACCESS_KEY_ID": KEY_ID,
    "SMS_ACCESS_KEY_SECRET": KEY_SECRET,
    "SMS_SIGN_NAME": "国瑞投资",
    "SMS_TEMPLATE_NOTICE": "SMS_154950909",
}
SMPP_PASSWORD = "pw!8Ab3x"
SMPP = {
    "SMS_PROVIDER": "smpp",
    "SMS_SMPP_HOST": "smpp.example.com",
    "SMS_SMPP_SYSTEM_ID": "guorui",
    "SMS_SMPP_PASSWORD": SMPP_PASSWORD,
    "SMS_SMPP_SOURCE_ADDR": "1069012345",
    "SMS_SIGN_NAME": "国瑞投资",
}


def load(**environ: str) -> Settings:
    return load_settings(env_file=None, environ=environ)


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, environ=environ)
    return info.value


def test_defaults_send_nothing() -> None:
    sms = load().sms
    assert sms.provider == "off" and not sms.enabled
    assert sms.api_base == "https://dysmsapi.aliyuncs.com"
    assert sms.callback_path == "/sms/aliyun"
    assert sms.callback_token is None
    assert sms.topics == frozenset()
    assert sms.quiet_hours == "21:00-08:00"
    assert sms.quiet == (time(21, 0), time(8, 0))
    assert sms.opt_out_text == "拒收请回复R"
    assert (sms.per_number_hour, sms.per_number_day) == (5, 10)


def test_aliyun_with_everything_it_needs() -> None:
    sms = load(
        **{**ALIYUN, "SMS_PROVIDER": " AliYun ", "SMS_SIGN_NAME": "【国瑞投资】"},
        SMS_TEMPLATE_ALERT="SMS_154950910",
        SMS_TEMPLATE_MARKETING=" SMS_154950911 ",
        SMS_API_BASE="http://127.0.0.1:9000/",
        SMS_CALLBACK_PATH="sms/receipts",
        SMS_CALLBACK_TOKEN=TOKEN,
        SMS_TOPICS="Training, risk,,",
        SMS_QUIET_HOURS="22:00-7:30",
        SMS_PER_NUMBER_HOUR="3",
        SMS_PER_NUMBER_DAY="20",
    ).sms
    assert sms.enabled and sms.provider == "aliyun"
    assert sms.access_key_secret == SecretStr(KEY_SECRET)
    assert sms.sign_name == "国瑞投资"
    assert sms.template_marketing == "SMS_154950911"
    assert sms.api_base == "http://127.0.0.1:9000"
    assert sms.callback_path == "/sms/receipts"
    assert sms.callback_token == SecretStr(TOKEN)
    assert sms.topics == frozenset({"training", "risk"})
    assert sms.quiet_hours == "22:00-07:30"
    assert (sms.per_number_hour, sms.per_number_day) == (3, 20)


def test_smpp_needs_no_alibaba_keys() -> None:
    sms = load(**SMPP).sms
    assert sms.enabled and sms.access_key_id is None and sms.template_notice is None
    assert (sms.smpp_host, sms.smpp_port, sms.smpp_system_type) == ("smpp.example.com", 2775, "")
    assert sms.smpp_password == SecretStr(SMPP_PASSWORD)
    assert (sms.smpp_window, sms.smpp_enquire_seconds, sms.smpp_country_code) == (10, 30, False)


def test_smpp_values_are_normalised() -> None:
    sms = load(
        **{**SMPP, "SMS_SMPP_HOST": " [::1] ", "SMS_SMPP_SOURCE_ADDR": " 10690123450001 "},
        SMS_SMPP_PORT="2776", SMS_SMPP_SYSTEM_TYPE=" CMT ", SMS_SMPP_WINDOW="1",
        SMS_SMPP_ENQUIRE_SECONDS="60", SMS_SMPP_COUNTRY_CODE="on",
    ).sms  # fmt: skip
    assert (sms.smpp_host, sms.smpp_port, sms.smpp_system_type) == ("::1", 2776, "CMT")
    assert sms.smpp_source_addr == "10690123450001" and sms.smpp_country_code
    assert (sms.smpp_window, sms.smpp_enquire_seconds) == (1, 60)


@pytest.mark.parametrize("missing", sorted(set(SMPP) - {"SMS_PROVIDER"}))
def test_smpp_names_what_is_missing(missing: str) -> None:
    error = config_error({k: v for k, v in SMPP.items() if k != missing})
    assert error.variable == missing
    assert "required when SMS_PROVIDER=smpp" in str(error)
    assert SMPP_PASSWORD not in str(error)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("SMS_SMPP_HOST", "smpp.example.com:2775", "without a port"),
        ("SMS_SMPP_HOST", "10.0.0.1:2775", "without a port"),
        ("SMS_SMPP_HOST", "http://smpp.example.com", "host name or IP address"),
        ("SMS_SMPP_PORT", "0", "at least 1"),
        ("SMS_SMPP_PORT", "70000", "at most 65535"),
        ("SMS_SMPP_SYSTEM_ID", "a-system-id-too-long", "1-15 ASCII"),
        ("SMS_SMPP_SYSTEM_ID", "国瑞", "1-15 ASCII"),
        ("SMS_SMPP_PASSWORD", "longer-than-8", "1-8 ASCII"),
        ("SMS_SMPP_SYSTEM_TYPE", "thirteen-char", "0-12 ASCII"),
        ("SMS_SMPP_SOURCE_ADDR", "106-9012", "digits only"),
        ("SMS_SMPP_WINDOW", "0", "at least 1"),
        ("SMS_SMPP_ENQUIRE_SECONDS", "1", "at least 5"),
        ("SMS_SMPP_COUNTRY_CODE", "maybe", "on or off"),
    ],
)
def test_bad_smpp_values_are_refused_by_name(variable: str, value: str, words: str) -> None:
    error = config_error({**SMPP, variable: value})
    assert error.variable == variable
    assert words in error.reason, error.reason
    if "PASSWORD" in variable:
        assert value not in str(error)


@pytest.mark.parametrize("missing", sorted(set(ALIYUN) - {"SMS_PROVIDER"}))
def test_aliyun_names_what_is_missing(missing: str) -> None:
    error = config_error({k: v for k, v in ALIYUN.items() if k != missing})
    assert error.variable == missing
    assert "required when SMS_PROVIDER=aliyun" in str(error)
    assert KEY_SECRET not in str(error)


def test_keys_without_the_provider_leave_it_off() -> None:
    assert not load(SMS_ACCESS_KEY_ID=KEY_ID).sms.enabled


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("SMS_PROVIDER", "tencent", "must be 'off', 'aliyun' or 'smpp'"),
        ("SMS_ACCESS_KEY_ID", "LTAI-5t!", "AccessKey ID"),
        ("SMS_ACCESS_KEY_SECRET", "short", "AccessKey Secret"),
        ("SMS_SIGN_NAME", "国", "2-12 characters"),
        ("SMS_SIGN_NAME", "国瑞投资有限公司上海分公司营业部", "2-12 characters"),
        ("SMS_TEMPLATE_NOTICE", "154950909", "template code"),
        ("SMS_TEMPLATE_ALERT", "SMS_abc", "template code"),
        ("SMS_API_BASE", "dysmsapi.aliyuncs.com", "http:// or https://"),
        ("SMS_CALLBACK_PATH", "/sms?x=1", "plain URL path"),
        ("SMS_CALLBACK_TOKEN", "short", "16-128 characters"),
        ("SMS_TOPICS", "risk,风险", "topic code"),
        ("SMS_QUIET_HOURS", "21:00", "21:00-08:00"),
        ("SMS_QUIET_HOURS", "25:00-08:00", "21:00-08:00"),
        ("SMS_QUIET_HOURS", "08:00-08:00", "must differ"),
        ("SMS_OPT_OUT_TEXT", "回" * 21, "1-20 characters"),
        ("SMS_PER_NUMBER_HOUR", "0", "at least 1"),
        ("SMS_PER_NUMBER_DAY", "lots", "whole number"),
    ],
)
def test_bad_values_are_refused_by_name(variable: str, value: str, words: str) -> None:
    error = config_error({**ALIYUN, variable: value})
    assert error.variable == variable
    assert words in error.reason
    assert "\n" not in str(error)
    if "SECRET" in variable or "TOKEN" in variable:
        assert value not in str(error)


def test_callback_path_shares_the_http_server() -> None:
    error = config_error(
        {**ALIYUN, "SMS_CALLBACK_PATH": "/healthz"},
    )
    assert error.variable == "SMS_CALLBACK_PATH"
    assert "/healthz" in error.reason
