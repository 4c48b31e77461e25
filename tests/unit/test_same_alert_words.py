"""Two alerts are the same when their words are: widths, traditional forms, spaces and
punctuation aside, but not the figures."""

from __future__ import annotations

import pytest

from broadcasts.lifecycle import same_words


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("美联储讲话前注意仓位，控制风险。", "美联储讲话前注意仓位,控制风险"),
        ("注意 仓位!", "注意仓位"),
        ("注意倉位", "注意仓位"),
        ("ＲＩＳＫ：黄金 2650", "risk 黄金2650"),
    ],
)
def test_the_same_words_retyped(first: str, second: str) -> None:
    assert same_words(first) == same_words(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("止损 3.5", "止损 35"),
        ("跌幅 5%", "跌幅 5"),
        ("14:30 公布", "1430 公布"),
        ("注意仓位", "注意风险"),
    ],
)
def test_other_words_or_figures(first: str, second: str) -> None:
    assert same_words(first) != same_words(second)
