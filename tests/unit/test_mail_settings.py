"""E-mail settings: off by default, the port from the TLS mode, and each bad value refused
with one line naming the variable (and the bad address), never the password."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.core.mailboxes import email_address, mailbox

RELAY = {"SMTP_HOST": "smtp.exmail.qq.com", "SMTP_FROM": "国瑞投资 <reports@example.com>"}


def load(**environ: str) -> Settings:
    return load_settings(env_file=None, environ=environ)


def refused(**environ: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(**environ)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_off_by_default() -> None:
    s = load()
    assert not s.mail.enabled and s.schedule.report_emails == ()
    assert s.mail.tls == "starttls" and s.mail.port_or_default == 587


@pytest.mark.parametrize(("mode", "port"), [("starttls", 587), ("TLS", 465), ("off", 25)])
def test_the_port_follows_the_tls_mode(mode: str, port: int) -> None:
    assert load(**RELAY, SMTP_TLS=mode).mail.port_or_default == port
    assert load(**RELAY, SMTP_TLS=mode, SMTP_PORT="2525").mail.port_or_default == 2525


def test_a_full_setup() -> None:
    s = load(
        **RELAY,
        SMTP_USER="reports@example.com",
        SMTP_PASSWORD="授权码-secret",
        REPORT_EMAILS=" Boss@Example.COM , service@example.com,boss@example.com",
    )
    assert s.mail.sender == ("国瑞投资", "reports@example.com")
    # The domain is folded, the mailbox is not (it is the receiving server's to compare).
    emails = ("Boss@example.com", "service@example.com", "boss@example.com")
    assert s.schedule.report_emails == emails
    assert "授权码-secret" not in repr(s)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"REPORT_EMAILS": "boss@example.com"}, "REPORT_EMAILS: needs SMTP_HOST"),
        ({**RELAY, "REPORT_EMAILS": "boss@example.com,老板"}, "REPORT_EMAILS: '老板' is not"),
        ({**RELAY, "REPORT_EMAILS": "boss@localhost"}, "REPORT_EMAILS: 'boss@localhost' is not"),
        ({"SMTP_HOST": "smtp.example.com"}, "SMTP_FROM: required when SMTP_HOST is set"),
        ({**RELAY, "SMTP_FROM": "国瑞投资 <reports>"}, "SMTP_FROM: '国瑞投资 <reports>' is not"),
        ({**RELAY, "SMTP_TLS": "ssl"}, "SMTP_TLS: must be 'starttls', 'tls' or 'off'"),
        ({**RELAY, "SMTP_PORT": "70000"}, "SMTP_PORT: must be at most 65535"),
        ({**RELAY, "SMTP_HOST": "smtp.example.com:465"}, "SMTP_HOST: must be the mail server"),
        ({**RELAY, "SMTP_USER": "me@example.com"}, "SMTP_PASSWORD: required when SMTP_USER"),
        ({**RELAY, "SMTP_PASSWORD": "hunter2-secret"}, "SMTP_USER: required when SMTP_PASSWORD"),
        ({**RELAY, "SMTP_TIMEOUT_SECONDS": "0"}, "SMTP_TIMEOUT_SECONDS: must be greater than 0"),
    ],
)
def test_bad_values_are_named(environ: dict[str, str], expected: str) -> None:
    message = refused(**environ)
    assert message.startswith(expected), message
    assert "hunter2-secret" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b+c@Mail.Example.CN", "a.b+c@mail.example.cn"),
        (" x@y.co ", "x@y.co"),
        ("x@y", None),
        ("x y@z.com", None),
        ("@z.com", None),
        ("x@-z.com", None),
        ("张三@公司.中国", None),
        ("x@1.2.3.4", None),
    ],
)
def test_email_addresses(text: str, expected: str | None) -> None:
    assert email_address(text) == expected


def test_mailboxes_with_display_names() -> None:
    assert mailbox("国瑞投资 <R@Example.com>") == ("国瑞投资", "R@example.com")
    assert mailbox('"Guorui, Reports" <r@example.com>') == ("Guorui, Reports", "r@example.com")
    assert mailbox("r@example.com") == ("", "r@example.com")
    assert mailbox("国瑞投资 r@example.com") is None
