"""The message catalog: both languages complete, and every key the code uses exists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.core.i18n import Catalog, Markup, Translator
from tests.support import ROOT

catalog = Catalog()


def test_languages_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalog.texts["zh"], catalog.texts["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert catalog.placeholders("zh", key) == catalog.placeholders("en", key), key


# t(...) in the handler's language; tt/tc: the same catalog in another person's language.
CALL = re.compile(r"""\b(?:t|tt|tc)\(\s*["']([a-z_]+\.[a-z_.]+)["']""")


def test_every_key_used_in_code_exists() -> None:
    used: set[str] = set()
    for path in [*ROOT.glob("handlers/**/*.py"), *ROOT.glob("bot/**/*.py")]:
        used |= set(
            re.findall(r"""\b(?:t|tt|tc)\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text())
        )
    assert used, "the scan found the catalog calls"
    missing = sorted(k for k in used if k not in catalog.texts["zh"])
    assert not missing


def test_values_are_escaped_but_markup_is_kept() -> None:
    t = Translator(catalog, "zh", "A&B <Firm>")
    text = t("subs.subscribed", names="<b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert t("start.greeting").count("A&amp;B &lt;Firm&gt;") == 1
    assert "<b>ok</b>" in t("subs.subscribed", names=Markup("<b>ok</b>"))


def test_no_text_promises_returns() -> None:
    forbidden = ("保证收益", "保本", "稳赚", "零风险", "无风险", "稳赚不赔", "包赚", "亏损包赔")
    for lang in ("zh", "en"):
        for key, text in catalog.texts[lang].items():
            assert not any(word in text for word in forbidden), key


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (20, "1 分钟", "1 minute"),  # never "0": a promise is not shortened to nothing
        (90, "2 分钟", "2 minutes"),  # half up, not to the even neighbour
        (150, "3 分钟", "3 minutes"),
        (30 * 60, "30 分钟", "30 minutes"),
        (59 * 60 + 40, "1 小时", "1 hour"),
        (90 * 60, "1.5 小时", "1.5 hours"),
        (2.25 * 3600, "2.3 小时", "2.3 hours"),
        (4 * 3600, "4 小时", "4 hours"),
        (10 * 3600, "10 小时", "10 hours"),
    ],
)
def test_a_span_reads_in_minutes_under_an_hour_and_rounds_half_up(
    seconds: float, zh: str, en: str
) -> None:
    length = timedelta(seconds=seconds)
    assert Translator(catalog, "zh", "F").span(length) == zh
    assert Translator(catalog, "en", "F").span(length) == en
