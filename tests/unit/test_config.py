"""Tests for bot.config: defaults, sources, normalisation and one-line error messages."""

import os
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    ConfigError,
    Settings,
    TelegramSettings,
    WechatSettings,
    load_settings,
    normalise_address,
)
from tests.support import ROOT

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
SECRET = "s3cr3t-Webhook_value"
WEBHOOK = {
    "TELEGRAM_MODE": "webhook",
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
    "TELEGRAM_WEBHOOK_SECRET": SECRET,
}
# Tencent's sample values (the secret is ours: 32 of A-Z a-z 0-9).
WX_TOKEN = "spamtest"
WX_APP_ID = "wx2c2769f8efd9abc2"
WX_SECRET = "hunter2" + "0123456789abcdefABCDEFGHI"
WX_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT = {"WECHAT_TOKEN": WX_TOKEN, "WECHAT_APP_ID": WX_APP_ID, "WECHAT_APP_SECRET": WX_SECRET}


def load(**environ: str) -> Settings:
    """Load with exactly ``environ`` and no .env file, isolated from the real environment."""
    return load_settings(env_file=None, environ=environ)


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, environ=environ)
    return info.value


def assert_clean(message: str, *secrets: str) -> None:
    """One line, no pydantic noise, no secrets."""
    assert "\n" not in message
    for noise in (
        "Traceback",
        "pydantic",
        "errors.pydantic.dev",
        "validation error",
        "input_value",
    ):
        assert noise not in message
    for secret in secrets:
        assert secret not in message


# --- defaults and sources -----------------------------------------------------------------------


def test_defaults() -> None:
    s = load()
    assert s.core.database_url == "sqlite:///data/bot.db"
    assert s.core.bot_admins == frozenset({"console:local"})
    assert s.core.firm_name == "国瑞投资"
    assert s.core.timezone == "Asia/Shanghai"
    assert s.core.tz.key == "Asia/Shanghai"
    assert s.core.default_language == "zh"
    assert s.core.log_level == "INFO"
    assert s.telegram.bot_token is None
    assert not s.telegram.enabled
    assert s.telegram.api_base == "https://api.telegram.org"
    assert s.telegram.mode == "polling"
    assert s.telegram.webhook_url is None
    assert s.telegram.webhook_secret is None
    assert s.telegram.webhook_path == "/telegram/webhook"
    assert s.telegram.rate_limit == 30.0
    assert s.http.host == "127.0.0.1"
    assert s.http.port == 8080


def test_env_file_is_read_and_environ_overrides_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "FIRM_NAME=测试公司\nHTTP_PORT=9000\nTELEGRAM_RATE_LIMIT=5\nDEFAULT_LANGUAGE=en\n",
        encoding="utf-8",
    )
    s = load_settings(env_file=env_file, environ={"HTTP_PORT": "9100"})
    assert s.core.firm_name == "测试公司"
    assert s.core.default_language == "en"
    assert s.telegram.rate_limit == 5.0
    assert s.http.port == 9100  # environ wins over the file


def test_env_file_accepts_str_path(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("HTTP_HOST=0.0.0.0\n", encoding="utf-8")
    assert load_settings(env_file=str(env_file), environ={}).http.host == "0.0.0.0"


def test_missing_env_file_is_fine(tmp_path: Path) -> None:
    assert load_settings(env_file=tmp_path / "nope.env", environ={}).http.port == 8080


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "8181")
    assert load_settings(env_file=None).http.port == 8181


def test_given_environ_ignores_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_MODE", "pull")
    assert load().telegram.mode == "polling"


def test_empty_value_means_default() -> None:
    s = load(TELEGRAM_BOT_TOKEN="", TELEGRAM_WEBHOOK_URL="", HTTP_PORT="")
    assert s.telegram.bot_token is None
    assert s.telegram.webhook_url is None
    assert s.http.port == 8080


def test_settings_are_frozen() -> None:
    s = load()
    with pytest.raises(ValueError):
        s.http.port = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        s.core = s.core  # type: ignore[misc]


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("sqlite+aiosqlite:///data/bot.db", "sqlite:///data/bot.db"),
        ("postgresql://u:p@db/bot", "postgresql+asyncpg://u:p@db/bot"),
        ("postgres://u:p@db/bot", "postgresql+asyncpg://u:p@db/bot"),
        (" postgresql+asyncpg://db/bot ", "postgresql+asyncpg://db/bot"),
    ],
)
def test_database_url_normalised_to_async_driver(raw: str, expected: str) -> None:
    assert load(DATABASE_URL=raw).core.database_url == expected


def test_database_url_password_not_in_repr() -> None:
    s = load(DATABASE_URL="postgresql://bot:hunter2@db/bot")
    assert "hunter2" not in repr(s)


def test_bot_admins_parsing_with_spaces() -> None:
    s = load(BOT_ADMINS="  telegram:123456 , Console:local,, QQ: 10001 ,wechat:oAbC_123 , ")
    assert s.core.bot_admins == frozenset(
        {"telegram:123456", "console:local", "qq:10001", "wechat:oAbC_123"}
    )


def test_is_admin_normalises_the_address() -> None:
    s = load(BOT_ADMINS="telegram:123456")
    assert s.is_admin("telegram:123456")
    assert s.is_admin(" Telegram: 123456 ")
    assert not s.is_admin("telegram:654321")
    assert not s.is_admin("console:local")
    assert not s.is_admin("not an address")


def test_normalise_address() -> None:
    assert normalise_address("TELEGRAM:007") == "telegram:7"
    with pytest.raises(ValueError):
        normalise_address("slack:1")


def test_case_and_whitespace_tolerant_choices() -> None:
    s = load(TELEGRAM_MODE=" Polling ", LOG_LEVEL="debug", DEFAULT_LANGUAGE="EN")
    assert (s.telegram.mode, s.core.log_level, s.core.default_language) == (
        "polling",
        "DEBUG",
        "en",
    )


def test_api_base_trailing_slash_stripped() -> None:
    assert load(TELEGRAM_API_BASE="http://localhost:8081/").telegram.api_base == (
        "http://localhost:8081"
    )


def test_webhook_path_gets_leading_slash() -> None:
    assert load(TELEGRAM_WEBHOOK_PATH="hook").telegram.webhook_path == "/hook"


# --- telegram -----------------------------------------------------------------------------------


def test_short_test_token_accepted_and_enables_telegram() -> None:
    s = load(TELEGRAM_BOT_TOKEN="123456:TEST-token")
    assert s.telegram.enabled
    assert isinstance(s.telegram.bot_token, SecretStr)
    assert s.telegram.bot_token.get_secret_value() == "123456:TEST-token"
    assert "TEST-token" not in repr(s)


def test_webhook_mode_with_everything_set() -> None:
    s = load(**WEBHOOK)
    assert s.telegram.mode == "webhook"
    assert s.telegram.webhook_secret is not None
    assert s.telegram.webhook_secret.get_secret_value() == SECRET
    assert SECRET not in repr(s) and TOKEN not in repr(s)


def test_webhook_url_http_allowed_for_localhost() -> None:
    for url in ("http://localhost:8080/hook", "http://127.0.0.1/hook"):
        assert load(TELEGRAM_WEBHOOK_URL=url).telegram.webhook_url == url


@pytest.mark.parametrize(
    "missing", ["TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET"]
)
def test_webhook_mode_requires(missing: str) -> None:
    environ = {k: v for k, v in WEBHOOK.items() if k != missing}
    error = config_error(environ)
    assert str(error) == f"{missing}: required when TELEGRAM_MODE=webhook"
    assert error.variable == missing
    assert_clean(str(error), TOKEN, SECRET)


def test_webhook_mode_without_secret() -> None:
    environ = {k: v for k, v in WEBHOOK.items() if k != "TELEGRAM_WEBHOOK_SECRET"}
    assert str(config_error(environ)) == (
        "TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_MODE=webhook"
    )


def test_unknown_mode() -> None:
    assert str(config_error({"TELEGRAM_MODE": "pull"})) == (
        "TELEGRAM_MODE: must be 'polling' or 'webhook' (got 'pull')"
    )


def test_malformed_admin_address() -> None:
    message = str(config_error({"BOT_ADMINS": "console:local, telegram:abc"}))
    assert message.startswith(
        "BOT_ADMINS: 'telegram:abc' is not a valid address; use <channel>:<id>, "
        "e.g. telegram:123456"
    )


def test_bad_timezone() -> None:
    message = str(config_error({"TIMEZONE": "Mars/Olympus_Mons"}))
    assert message.startswith("TIMEZONE: ")
    assert "Mars/Olympus_Mons" in message


# --- wechat -------------------------------------------------------------------------------------


def test_wechat_defaults() -> None:
    wx = load().wechat
    assert not wx.enabled and not wx.safe_mode
    assert (wx.token, wx.app_id, wx.app_secret, wx.encoding_aes_key) == (None, None, None, None)
    assert wx.api_base == "https://api.weixin.qq.com"
    assert wx.webhook_path == "/wechat"
    assert wx.max_clock_skew_seconds == 300
    assert wx.passive_seconds == 4.0
    assert (wx.window_hours, wx.window_messages) == (48, 5)
    assert (wx.event_window_seconds, wx.event_window_messages) == (60, 3)
    assert wx.service_template_id is None
    assert wx.service_template_field == "content"
    assert wx.rate_limit == 500.0
    assert wx.max_in_flight == 64


def test_wechat_plain_mode() -> None:
    s = load(**WECHAT)
    wx = s.wechat
    assert wx.enabled and not wx.safe_mode
    assert isinstance(wx.token, SecretStr) and wx.token.get_secret_value() == WX_TOKEN
    assert isinstance(wx.app_secret, SecretStr) and wx.app_secret.get_secret_value() == WX_SECRET
    assert wx.app_id == WX_APP_ID
    assert WX_TOKEN not in repr(s) and WX_SECRET not in repr(s)


def test_wechat_safe_mode() -> None:
    s = load(**WECHAT, WECHAT_ENCODING_AES_KEY=WX_AES_KEY)
    wx = s.wechat
    assert wx.enabled and wx.safe_mode
    assert wx.encoding_aes_key is not None
    assert wx.encoding_aes_key.get_secret_value() == WX_AES_KEY
    assert WX_AES_KEY not in repr(s)


def test_wechat_values_normalised() -> None:
    wx = load(
        WECHAT_TOKEN=f" {WX_TOKEN} ",
        WECHAT_APP_ID=f" {WX_APP_ID}\t",
        WECHAT_APP_SECRET=f"{WX_SECRET} ",
        WECHAT_ENCODING_AES_KEY=f" {WX_AES_KEY}",
        WECHAT_API_BASE="http://localhost:8082/",
        WECHAT_WEBHOOK_PATH="wx/hook",
        WECHAT_SERVICE_TEMPLATE_ID=" iPk5sOIt5X_flOVKn5GrTFpncEYTojx6ddbt8WYoV5s ",
        WECHAT_SERVICE_TEMPLATE_FIELD=" first ",
        WECHAT_PASSIVE_SECONDS="0",
    ).wechat
    assert wx.token is not None and wx.token.get_secret_value() == WX_TOKEN
    assert wx.app_id == WX_APP_ID
    assert wx.app_secret is not None and wx.app_secret.get_secret_value() == WX_SECRET
    assert wx.encoding_aes_key is not None
    assert wx.encoding_aes_key.get_secret_value() == WX_AES_KEY
    assert wx.api_base == "http://localhost:8082"
    assert wx.webhook_path == "/wx/hook"
    assert wx.service_template_id == "iPk5sOIt5X_flOVKn5GrTFpncEYTojx6ddbt8WYoV5s"
    assert wx.service_template_field == "first"
    assert wx.passive_seconds == 0


def test_wechat_tuning_alone_leaves_it_off() -> None:
    wx = load(WECHAT_RATE_LIMIT="10", WECHAT_SERVICE_TEMPLATE_ID="tpl_1").wechat
    assert not wx.enabled
    assert wx.rate_limit == 10.0


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"WECHAT_APP_ID": WX_APP_ID, "WECHAT_APP_SECRET": WX_SECRET},
            "WECHAT_TOKEN: required when WECHAT_APP_ID is set",
        ),
        (
            {"WECHAT_TOKEN": WX_TOKEN, "WECHAT_APP_SECRET": WX_SECRET},
            "WECHAT_APP_ID: required when WECHAT_TOKEN is set",
        ),
        (
            {"WECHAT_TOKEN": WX_TOKEN, "WECHAT_APP_ID": WX_APP_ID},
            "WECHAT_APP_SECRET: required when WECHAT_TOKEN is set",
        ),
        ({"WECHAT_APP_SECRET": WX_SECRET}, "WECHAT_TOKEN: required when WECHAT_APP_SECRET is set"),
        (
            {"WECHAT_ENCODING_AES_KEY": WX_AES_KEY},
            "WECHAT_TOKEN: required when WECHAT_ENCODING_AES_KEY is set",
        ),
        (
            {
                "WECHAT_TOKEN": WX_TOKEN,
                "WECHAT_APP_ID": WX_APP_ID,
                "WECHAT_ENCODING_AES_KEY": WX_AES_KEY,
            },
            "WECHAT_APP_SECRET: required when WECHAT_TOKEN is set",
        ),
    ],
)
def test_wechat_partial_credentials_refused(environ: dict[str, str], expected: str) -> None:
    error = config_error(environ)
    assert str(error) == expected
    assert error.variable == expected.partition(":")[0]
    assert error.__cause__ is None and error.__suppress_context__
    assert_clean(str(error), WX_TOKEN, WX_SECRET, WX_AES_KEY)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WECHAT_TOKEN", "q7"),
        ("WECHAT_TOKEN", "hunter2!"),
        ("WECHAT_TOKEN", "hunter2 hunter2"),
        ("WECHAT_TOKEN", "hunter2" * 5),
        ("WECHAT_APP_ID", "wxhunter2"),
        ("WECHAT_APP_ID", "WX2c2769f8efd9abc2"),
        ("WECHAT_APP_ID", WX_APP_ID + "0"),
        ("WECHAT_APP_ID", WX_SECRET),  # the secret pasted in the wrong place: still not echoed
        ("WECHAT_APP_SECRET", WX_SECRET[:-1]),
        ("WECHAT_APP_SECRET", WX_SECRET + "0"),
        ("WECHAT_APP_SECRET", WX_SECRET[:-1] + "-"),
        ("WECHAT_ENCODING_AES_KEY", WX_AES_KEY[:-1]),
        ("WECHAT_ENCODING_AES_KEY", WX_AES_KEY + "="),
        ("WECHAT_ENCODING_AES_KEY", WX_AES_KEY + "H"),
        ("WECHAT_ENCODING_AES_KEY", WX_AES_KEY[:-1] + "-"),  # the URL-safe alphabet is not it
        ("WECHAT_API_BASE", "ftp://api.weixin.qq.com"),
        ("WECHAT_API_BASE", "api.weixin.qq.com"),
        ("WECHAT_WEBHOOK_PATH", "/wechat?x=1"),
        ("WECHAT_WEBHOOK_PATH", "/we chat"),
        ("WECHAT_MAX_CLOCK_SKEW_SECONDS", "9"),
        ("WECHAT_MAX_CLOCK_SKEW_SECONDS", "3601"),
        ("WECHAT_MAX_CLOCK_SKEW_SECONDS", "5m"),
        ("WECHAT_PASSIVE_SECONDS", "-1"),
        ("WECHAT_PASSIVE_SECONDS", "4.6"),
        ("WECHAT_PASSIVE_SECONDS", "nan"),
        ("WECHAT_PASSIVE_SECONDS", "inf"),
        ("WECHAT_WINDOW_HOURS", "0"),
        ("WECHAT_WINDOW_HOURS", "49"),
        ("WECHAT_WINDOW_HOURS", "nan"),
        ("WECHAT_WINDOW_MESSAGES", "0"),
        ("WECHAT_WINDOW_MESSAGES", "21"),
        ("WECHAT_EVENT_WINDOW_SECONDS", "0"),
        ("WECHAT_EVENT_WINDOW_SECONDS", "3601"),
        ("WECHAT_EVENT_WINDOW_MESSAGES", "0"),
        ("WECHAT_EVENT_WINDOW_MESSAGES", "21"),
        ("WECHAT_SERVICE_TEMPLATE_ID", "tpl id"),
        ("WECHAT_SERVICE_TEMPLATE_FIELD", "first.DATA"),
        ("WECHAT_SERVICE_TEMPLATE_FIELD", "x" * 33),
        ("WECHAT_SERVICE_TEMPLATE_FIELD", "  "),
        ("WECHAT_RATE_LIMIT", "0"),
        ("WECHAT_RATE_LIMIT", "1001"),
        ("WECHAT_RATE_LIMIT", "inf"),
        ("WECHAT_MAX_IN_FLIGHT", "0"),
        ("WECHAT_MAX_IN_FLIGHT", "257"),
    ],
)
def test_wechat_invalid_value_names_variable(variable: str, value: str) -> None:
    error = config_error({**WECHAT, variable: value})  # the rest valid: this value is the fault
    message = str(error)
    assert message.startswith(f"{variable}: ")
    assert error.variable == variable
    assert error.__cause__ is None and error.__suppress_context__
    assert_clean(message, "hunter2", WX_TOKEN, WX_SECRET)
    if variable in (
        "WECHAT_TOKEN",
        "WECHAT_APP_ID",
        "WECHAT_APP_SECRET",
        "WECHAT_ENCODING_AES_KEY",
    ):
        assert value not in message


def test_wechat_messages_are_human() -> None:
    assert str(config_error({"WECHAT_APP_ID": "wx123"})) == (
        "WECHAT_APP_ID: must be the AppID from the official account's settings:"
        " wx followed by 16 letters or digits"
    )
    assert str(config_error({"WECHAT_ENCODING_AES_KEY": "short"})) == (
        "WECHAT_ENCODING_AES_KEY: must be the 43-character EncodingAESKey"
        " from the official account's settings"
    )
    assert str(config_error({"WECHAT_PASSIVE_SECONDS": "5"})) == (
        "WECHAT_PASSIVE_SECONDS: must be at most 4.5 (got '5')"
    )
    assert str(config_error({"WECHAT_WINDOW_HOURS": "0"})) == (
        "WECHAT_WINDOW_HOURS: must be greater than 0 (got '0')"
    )


def test_wechat_section_usable_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("WECHAT_"):
            monkeypatch.delenv(name)
    wx = WechatSettings(
        token=SecretStr(WX_TOKEN),
        app_id=WX_APP_ID,
        app_secret=SecretStr(WX_SECRET),
        _env_file=None,
    )
    assert wx.enabled and not wx.safe_mode


# --- every invalid case: right variable, one clean line, no secrets -----------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root:hunter2@db/bot"),
        ("DATABASE_URL", "postgresql+psycopg2://root:hunter2@db/bot"),
        ("DATABASE_URL", "root:hunter2@db/bot"),
        ("BOT_ADMINS", "telegram:abc"),
        ("BOT_ADMINS", "qq:12a"),
        ("BOT_ADMINS", "slack:123"),
        ("BOT_ADMINS", "telegram"),
        ("BOT_ADMINS", "console:"),
        ("FIRM_NAME", "   "),
        ("TIMEZONE", "Not/AZone"),
        ("TIMEZONE", "../etc/passwd"),
        ("DEFAULT_LANGUAGE", "fr"),
        ("LOG_LEVEL", "VERBOSE"),
        ("TELEGRAM_BOT_TOKEN", "not-a-token hunter2"),
        ("TELEGRAM_BOT_TOKEN", "abc:hunter2"),
        ("TELEGRAM_API_BASE", "ftp://api.telegram.org"),
        ("TELEGRAM_API_BASE", "api.telegram.org"),
        ("TELEGRAM_MODE", "pull"),
        ("TELEGRAM_WEBHOOK_URL", "http://bot.example.com/hook"),
        ("TELEGRAM_WEBHOOK_URL", "not a url"),
        ("TELEGRAM_WEBHOOK_SECRET", "hunter2 with spaces"),
        ("TELEGRAM_WEBHOOK_SECRET", "hunter2" * 40),
        ("TELEGRAM_WEBHOOK_PATH", "/hook?x=1"),
        ("TELEGRAM_RATE_LIMIT", "0"),
        ("TELEGRAM_RATE_LIMIT", "-1"),
        ("TELEGRAM_RATE_LIMIT", "fast"),
        ("TELEGRAM_RATE_LIMIT", "inf"),
        ("TELEGRAM_RATE_LIMIT", "1e-9"),
        ("TELEGRAM_RATE_LIMIT", "1e9"),
        ("TELEGRAM_CHAT_INTERVAL", "-1"),
        ("TELEGRAM_CHAT_INTERVAL", "3600"),
        ("TELEGRAM_GROUP_PER_MINUTE", "0"),
        ("TELEGRAM_GROUP_PER_MINUTE", "1000"),
        ("TELEGRAM_MAX_IN_FLIGHT", "0"),
        ("TELEGRAM_MAX_IN_FLIGHT", "many"),
        ("HTTP_HOST", "  "),
        ("HTTP_PORT", "0"),
        ("HTTP_PORT", "65536"),
        ("HTTP_PORT", "http"),
    ],
)
def test_invalid_value_names_variable(variable: str, value: str) -> None:
    error = config_error({variable: value})
    message = str(error)
    assert message.startswith(f"{variable}: ")
    assert error.variable == variable
    assert error.__cause__ is None and error.__suppress_context__
    assert_clean(message, "hunter2")


def test_invalid_value_in_env_file_names_variable(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TELEGRAM_BOT_TOKEN=hunter2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=env_file, environ={})
    assert str(info.value).startswith("TELEGRAM_BOT_TOKEN: ")
    assert_clean(str(info.value), "hunter2")


def test_messages_are_human() -> None:
    assert str(config_error({"HTTP_PORT": "0"})) == "HTTP_PORT: must be at least 1 (got '0')"
    assert str(config_error({"TELEGRAM_RATE_LIMIT": "0"})) == (
        "TELEGRAM_RATE_LIMIT: must be at least 1 (got '0')"
    )
    assert str(config_error({"TELEGRAM_RATE_LIMIT": "1e-9"})) == (
        "TELEGRAM_RATE_LIMIT: must be at least 1 (got '1e-9')"
    )
    assert str(config_error({"TELEGRAM_RATE_LIMIT": "5000"})) == (
        "TELEGRAM_RATE_LIMIT: must be at most 1000 (got '5000')"
    )
    assert str(config_error({"DATABASE_URL": "mysql://u:p@h/db"})) == (
        "DATABASE_URL: unsupported scheme 'mysql'; use sqlite:// or postgresql+asyncpg://"
    )


def test_sections_usable_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without load_settings a section reads os.environ like any BaseSettings."""
    for name in list(os.environ):
        if name.upper().startswith("TELEGRAM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TELEGRAM_RATE_LIMIT", "2.5")
    tg = TelegramSettings(bot_token=SecretStr(TOKEN), _env_file=None)
    assert tg.enabled
    assert tg.rate_limit == 2.5


# --- .env encoding ------------------------------------------------------------------------------


def test_env_file_not_utf8_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path(".env").write_bytes("FIRM_NAME=测试\n".encode("gbk"))
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})  # default env_file=".env"
    assert str(info.value) == ".env: not UTF-8 (save it as UTF-8)"
    assert info.value.variable == ".env"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_env_file_not_utf8_names_the_given_path(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_bytes("TELEGRAM_BOT_TOKEN=123:hunter2\nFIRM_NAME=测试\n".encode("gbk"))
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=env_file, environ={})
    assert str(info.value) == f"{env_file}: not UTF-8 (save it as UTF-8)"
    assert_clean(str(info.value), "hunter2")


def test_env_file_utf8_with_bom_is_fine(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes("\ufeffFIRM_NAME=测试\n".encode())
    assert load_settings(env_file=env_file, environ={}).core.firm_name == "测试"


# --- address rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("telegram:1", "telegram:1"),
        ("Telegram:1", "telegram:1"),
        ("TELEGRAM:0123", "telegram:123"),
        ("telegram:-100123", "telegram:-100123"),  # group chat
        ("telegram:-00", "telegram:0"),
        ("telegram:000", "telegram:0"),
        ("QQ: 10001 ", "qq:10001"),
        ("telegram:" + "0" * 5000 + "7", "telegram:7"),  # no int() digit limit
        ("console:local", "console:local"),
        ("Console:Admin.Bob@firm-1", "console:Admin.Bob@firm-1"),  # id case is kept
        ("wechat:oAbC_123-x", "wechat:oAbC_123-x"),
        ("wechat:" + "a" * 64, "wechat:" + "a" * 64),
    ],
)
def test_normalise_address_valid(raw: str, expected: str) -> None:
    assert normalise_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "console:local;telegram:1",
        "slack:1",
        "telegram",
        ":1",
        "telegram:",
        "telegram:abc",
        "telegram:+1",
        "telegram:1.0",
        "telegram:1 2",
        "telegram:--1",
        "telegram:١٢٣",  # non-ASCII digits
        "qq:12a",
        "console:",
        "console:a b",
        "console:a:b",
        "console:a/b",
        "console:测试",
        "wechat:" + "a" * 65,
        "wechat:a\nb",
    ],
)
def test_normalise_address_invalid(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a valid address"):
        normalise_address(raw)


def test_bot_admins_semicolon_list_refused() -> None:
    error = config_error({"BOT_ADMINS": "console:local;telegram:1"})
    assert error.variable == "BOT_ADMINS"
    message = str(error)
    assert message.startswith("BOT_ADMINS: 'console:local;telegram:1' is not a valid address")
    assert "separate addresses with commas" in message
    assert_clean(message)


@pytest.mark.parametrize(
    ("value", "bad_item"),
    [
        ("console:local, console:bad id", "console:bad id"),
        ("telegram:1,wechat:a/b", "wechat:a/b"),
        ("Telegram:abc", "Telegram:abc"),
    ],
)
def test_bot_admins_names_the_bad_item(value: str, bad_item: str) -> None:
    message = str(config_error({"BOT_ADMINS": value}))
    assert message.startswith(f"BOT_ADMINS: {bad_item!r} is not a valid address")
    assert_clean(message)


def test_bot_admins_normalised() -> None:
    s = load(BOT_ADMINS="Telegram:0123, telegram:-100200, TELEGRAM:123")
    assert s.core.bot_admins == frozenset({"telegram:123", "telegram:-100200"})
    assert s.is_admin("telegram:00123")
    assert not s.is_admin("console:local;telegram:123")


def test_bot_admins_bad_item_is_one_line_and_shortened() -> None:
    message = str(config_error({"BOT_ADMINS": "console:" + "x" * 500}))
    assert "\n" not in message and len(message) < 250


# --- in-memory SQLite ---------------------------------------------------------------------------

IN_MEMORY = (
    "DATABASE_URL: an in-memory SQLite database loses every message at restart;"
    " give a file path, e.g. sqlite:///data/bot.db"
)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///",
        " SQLite:/// ",
        "sqlite:///:memory:",
        "sqlite+aiosqlite:///:memory:",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:shared?mode=memory&cache=shared&uri=true",
        "sqlite+aiosqlite:///file:x.db?mode=MEMORY&uri=true",
        "sqlite://?mode=memory",
        "sqlite:///file:/x.db?vfs=memdb&uri=true",
    ],
)
def test_in_memory_sqlite_refused(url: str) -> None:
    error = config_error({"DATABASE_URL": url})
    assert str(error) == IN_MEMORY
    assert error.variable == "DATABASE_URL"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/bot.db", "sqlite:///data/bot.db"),
        ("sqlite:////var/lib/bot/bot.db", "sqlite:////var/lib/bot/bot.db"),
        (
            "sqlite:///file:bot.db?mode=rwc&uri=true",
            "sqlite:///file:bot.db?mode=rwc&uri=true",
        ),
    ],
)
def test_file_sqlite_accepted(url: str, expected: str) -> None:
    assert load(DATABASE_URL=url).core.database_url == expected


def test_env_example_lists_every_setting_with_its_default() -> None:
    """.env.example stays true to the code: every variable, and the default it states."""
    from bot.config import Settings

    text = (ROOT / ".env.example").read_text("utf-8")
    blocks = dict(
        (m.group(2), m.group(1))  # variable -> the comment lines just above it
        for m in re.finditer(r"((?:^# [^\n]*\n)*?)^# ([A-Z_]+)=", text, flags=re.MULTILINE)
    )
    expected = set()
    for section in (f.annotation for f in Settings.model_fields.values()):
        prefix = (section.model_config.get("env_prefix") or "").upper()
        for name, field in section.model_fields.items():
            variable = prefix + name.upper()
            expected.add(variable)
            default = field.default
            if isinstance(default, float) and default.is_integer():
                default = int(default)
            if isinstance(default, int | float | str) and not isinstance(default, bool):
                assert f"Default: {default}" in blocks.get(variable, ""), variable
    assert set(blocks) == expected


def test_channels_on_one_http_server_need_their_own_paths() -> None:
    wechat = {
        "WECHAT_TOKEN": "tok3n",
        "WECHAT_APP_ID": "wx1111222233334444",
        "WECHAT_APP_SECRET": "0123456789abcdef0123456789abcdef",
    }
    telegram = {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": "https://example.com/hook",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
    }
    same = {**wechat, **telegram, "WECHAT_WEBHOOK_PATH": "/hook", "TELEGRAM_WEBHOOK_PATH": "/hook"}
    with pytest.raises(ConfigError, match=r"^WECHAT_WEBHOOK_PATH: must differ"):
        load_settings(env_file=None, environ=same)
    with pytest.raises(ConfigError, match=r"^WECHAT_WEBHOOK_PATH: /healthz"):
        load_settings(env_file=None, environ={**wechat, "WECHAT_WEBHOOK_PATH": "/healthz"})
    assert load_settings(env_file=None, environ={**wechat, **telegram}).wechat.enabled


def test_onebot_settings() -> None:
    assert not load_settings(env_file=None, environ={}).onebot.enabled
    reverse = load_settings(
        env_file=None, environ={"ONEBOT_MODE": "Reverse", "ONEBOT_ACCESS_TOKEN": "t0ken"}
    ).onebot
    assert reverse.enabled and reverse.mode == "reverse" and reverse.ws_path == "/onebot/v11/ws"
    for environ, message in (
        ({"ONEBOT_MODE": "reverse"}, "ONEBOT_ACCESS_TOKEN: required when ONEBOT_MODE=reverse"),
        ({"ONEBOT_MODE": "forward"}, "ONEBOT_WS_URL: required when ONEBOT_MODE=forward"),
        ({"ONEBOT_MODE": "sideways"}, "ONEBOT_MODE: must be 'off', 'reverse' or 'forward'"),
        ({"ONEBOT_MODE": "forward", "ONEBOT_WS_URL": "http://x"}, "ONEBOT_WS_URL: must be a ws://"),
        (
            {"ONEBOT_GROUP_INTERVAL_SECONDS": "-1"},
            "ONEBOT_GROUP_INTERVAL_SECONDS: must be at least 0",
        ),
        ({"ONEBOT_FRIEND_REQUESTS": "maybe"}, "ONEBOT_FRIEND_REQUESTS: must be 'accept'"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings(env_file=None, environ=environ)
        assert str(caught.value).startswith(message), str(caught.value)
    secret = {
        "ONEBOT_MODE": "reverse",
        "ONEBOT_ACCESS_TOKEN": "s3cr3t-value",
        "ONEBOT_PRIVATE_RATE": "x",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, environ=secret)
    assert "s3cr3t-value" not in str(caught.value)


WC_CORP, WC_SECRET, WC_KF = (
    "ww1111222233334444",
    "kfSecret0123456789abcdefghijklmnop",
    "wkAJ2GCAAA0001",
)
WC_FULL = {
    "WECOM_CORP_ID": WC_CORP, "WECOM_KF_SECRET": WC_SECRET, "WECOM_KF_ID": WC_KF,
    "WECOM_TOKEN": "t0kenWecom", "WECOM_ENCODING_AES_KEY": WX_AES_KEY,
}  # fmt: skip


def test_wecom_is_on_with_all_five_and_off_without_any() -> None:
    assert load(**WC_FULL).wecom.enabled
    assert not load().wecom.enabled


@pytest.mark.parametrize("missing", sorted(WC_FULL))
def test_wecom_partial_settings_name_what_is_missing(missing: str) -> None:
    environ = {k: v for k, v in WC_FULL.items() if k != missing}
    error = config_error(environ)
    assert error.variable == missing and "required when WECOM_" in str(error)
    assert_clean(str(error), WC_SECRET, WX_AES_KEY, "t0kenWecom")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WECOM_CORP_ID", "corp-123"),
        ("WECOM_KF_ID", "kf_1"),
        ("WECOM_KF_SECRET", "short"),
        ("WECOM_TOKEN", "not a token!"),
        ("WECOM_ENCODING_AES_KEY", "tooShort"),
    ],
)
def test_wecom_bad_values_are_refused_without_echoing_them(variable: str, value: str) -> None:
    error = config_error({**WC_FULL, variable: value})
    assert error.variable == variable
    assert_clean(str(error), value)
