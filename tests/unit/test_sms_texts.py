"""Alibaba's limits on SMS texts: 35 characters a variable, 500 a text, parts of 70 and 67."""

from __future__ import annotations

import pytest

from bot.channels.sms.texts import (
    TextTooLong,
    check_variable,
    parts,
    render,
    variables,
)


def test_parts_are_one_up_to_70_then_67_each() -> None:
    assert parts("") == 0
    assert parts("字" * 70) == 1
    assert parts("字" * 71) == 2
    assert parts("字" * 134) == 2
    assert parts("字" * 135) == 3
    assert parts("a" * 70) == 1  # Latin letters count one each too


def test_a_variable_over_35_characters_is_refused_naming_the_limit() -> None:
    assert check_variable("text", "字" * 35) == "字" * 35
    with pytest.raises(TextTooLong, match="at most 35") as caught:
        check_variable("text", "字" * 36)
    assert caught.value.limit == 35 and caught.value.length == 36
    assert "${text}" in str(caught.value)


def test_render_fills_the_template_and_counts_the_sign_name() -> None:
    sms = render(
        "国瑞投资", "您的交易编码是${code}，顾问${name}。", {"code": "A123", "name": "王芳"}
    )
    assert sms.text == "【国瑞投资】您的交易编码是A123，顾问王芳。"
    assert sms.length == len(sms.text) and sms.parts == 1
    long = render("国瑞投资", "${a}${b}${c}", {"a": "字" * 35, "b": "字" * 35, "c": "字"})
    assert long.length == 77 and long.parts == 2


def test_render_never_cuts() -> None:
    with pytest.raises(TextTooLong, match="at most 500"):
        render("签名", "字" * 499 + "${t}", {"t": "x"})
    with pytest.raises(TextTooLong, match="at most 35"):
        render("签名", "提醒：${t}", {"t": "x" * 36})
    with pytest.raises(KeyError):
        render("签名", "提醒：${t}", {})


def test_variables_in_order_once_each() -> None:
    assert variables("${a}和${b}，再${a}") == ["a", "b"]
