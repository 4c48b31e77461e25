"""LOG_FORMAT=json: one object a line with the chat it is about, phone numbers masked unless
LOG_PERSONAL=on; and the operations settings refused by name when wrong."""

from __future__ import annotations

import json
import logging

import pytest

from bot.config import ConfigError, load_settings
from bot.core import log_context
from bot.ops.logs import JsonFormatter, mask_phones


def line(formatter: logging.Formatter, message: str, *args: object, exc: bool = False) -> dict:
    record = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, None)
    if exc:
        try:
            raise ValueError("call 13800138000 back")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
    return json.loads(formatter.format(record))


def test_a_line_names_channel_chat_and_ticket_and_masks_phones() -> None:
    tokens = log_context.about("sms", "sms:13912345678")
    log_context.about_ticket("TS-20261201-0001")
    try:
        out = line(JsonFormatter(), "reply from %s failed", "+86 13912345678", exc=True)
    finally:
        log_context.done(tokens)
    assert out["level"] == "ERROR" and out["logger"] == "bot.test"
    assert out["time"].endswith("+00:00")
    assert (out["channel"], out["chat"], out["ticket"]) == (
        "sms", "sms:139****5678", "TS-20261201-0001",
    )  # fmt: skip
    assert out["message"] == "reply from 139****5678 failed"
    assert "ValueError: call 138****8000 back" in out["exception"]
    assert "13912345678" not in json.dumps(out) and "13800138000" not in json.dumps(out)
    assert log_context.current() == {}, "the context ends with the event"


def test_personal_mode_keeps_numbers_and_other_digits_are_left_alone() -> None:
    assert line(JsonFormatter(personal=True), "13912345678")["message"] == "13912345678"
    assert mask_phones("id 123456789012, ts 1733011200123, 0086-13700001111") == (
        "id 123456789012, ts 1733011200123, 137****1111"
    )


def test_shown_hides_personal_values_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "hidden" in str(log_context.shown("你好"))
    monkeypatch.setattr(log_context, "personal", True)
    assert log_context.shown("你好") == "你好"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("METRICS", "yes", "METRICS: must be 'on' or 'off'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: must be 'text' or 'json'"),
        ("LOG_PERSONAL", "maybe", "LOG_PERSONAL: must be 'on' or 'off'"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN: must be 16 to 200 printable characters"),
    ],
)
def test_a_bad_operations_setting_is_refused_by_name(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(env_file=None, environ={variable: value})
    assert str(error.value).startswith(says)
    assert variable != "METRICS_TOKEN" or value not in str(error.value)


def test_operations_defaults() -> None:
    ops = load_settings(env_file=None, environ={}).ops
    assert (ops.metrics_on, ops.metrics_token, ops.log_format, ops.personal) == (
        False, None, "text", False,
    )  # fmt: skip
