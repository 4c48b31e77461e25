"""RETENTION_* settings: defaults a regulated firm can live with, bad values refused by name."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import ConfigError, load_settings


def test_defaults_keep_five_years_and_the_audit_log_forever() -> None:
    r = load_settings(env_file=None, environ={}).retention
    assert (r.messages_years, r.erased_years, r.audit_years) == (5, 5, 0)
    assert r.time == dt.time(3, 30) and r.batch == 500 and r.enabled


def test_zero_everywhere_keeps_everything() -> None:
    environ = {
        "RETENTION_MESSAGES_YEARS": "0",
        "RETENTION_ERASED_YEARS": "0",
        "RETENTION_AT": "4:05",
    }
    r = load_settings(env_file=None, environ=environ).retention
    assert not r.enabled and r.at == "04:05"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("RETENTION_MESSAGES_YEARS", "-1", "must be at least 0"),
        ("RETENTION_ERASED_YEARS", "five", "must be a whole number"),
        ("RETENTION_AUDIT_YEARS", "101", "must be at most 100"),
        ("RETENTION_AT", "25:00", "is not a time like 03:30"),
        ("RETENTION_BATCH", "5", "must be at least 10"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(variable: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, environ={variable: value})
    assert str(caught.value).startswith(f"{variable}: ") and reason in str(caught.value)
