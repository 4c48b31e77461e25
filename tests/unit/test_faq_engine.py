"""The matcher on its own: normalisation, ranking, confidence outcomes, odd input."""

from __future__ import annotations

import pytest

from handlers.faq.engine import FaqIndex
from handlers.faq.index_cache import DEFAULT_KB, default_synonyms
from handlers.faq.kb_file import read_file
from handlers.faq.normalize import normalize
from storage.records import FaqEntry

INDEX = FaqIndex(read_file(DEFAULT_KB), default_synonyms())


def best(text: str) -> tuple[str, str | None]:
    match = INDEX.match(text)
    return match.outcome, match.best.entry.id if match.best else None


def test_default_knowledge_base_is_complete() -> None:
    entries = read_file(DEFAULT_KB)
    zh = {e.id for e in entries if e.language == "zh"}
    en = {e.id for e in entries if e.language == "en"}
    assert len(zh) >= 40 and {f"{i}-en" for i in zh} == en


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("怎么开户", "open-account"),
        ("开账户怎么弄", "open-account"),
        ("注册账号", "open-account"),
        ("開戶要帶什麼證件", "open-account-documents"),  # traditional characters
        ("提现多久能到账", "withdraw"),
        ("非农是什么意思", "nonfarm-what"),
        ("How do I open an account?", "open-account-en"),
        ("what is non-farm", "nonfarm-what-en"),
    ],
)
def test_confident_answers(text: str, entry: str) -> None:
    assert best(text) == ("answer", entry)


def test_typo_still_finds_the_entry() -> None:
    outcome, entry = best("怎么开护")  # 户 mistyped by the IME
    assert entry == "open-account" and outcome in ("answer", "suggest")


@pytest.mark.parametrize("text", ["今天天气怎么样", "你们老板叫什么", "I like turtles"])
def test_out_of_scope_is_not_answered(text: str) -> None:
    assert best(text)[0] != "answer"


@pytest.mark.parametrize("text", ["", "   ", "???!!!", "。。。", "😀😀😀", "\u200b\u202e"])
def test_no_words_no_match(text: str) -> None:
    match = INDEX.match(text)
    assert match.outcome == "none" and match.candidates == []


def test_long_paste_is_bounded_and_does_not_crash() -> None:
    match = INDEX.match("我想问一下怎么开户" + "啊" * 5000)
    assert match.outcome in ("answer", "suggest", "none")


def test_mixed_chinese_english_emoji() -> None:
    assert best("app怎么下载😭")[1] in ("software-download", "software-download-en")


def test_normalize_widths_case_and_script() -> None:
    assert normalize("ＡＰＰ　開戶") == "app 开户"


def test_synonyms_apply_to_words_only() -> None:
    index = FaqIndex(
        [FaqEntry("x", "en", "c", "how do I withdraw", "answer")], {"cash out": "withdraw"}
    )
    assert index.match("how do i cash out").outcome == "answer"
    assert index.normalize("cashout happy app") == "cashout happy app"


def test_disabled_entries_are_not_indexed() -> None:
    index = FaqIndex([FaqEntry("x", "zh", "c", "怎么开户", "a", enabled=False)])
    assert index.match("怎么开户").outcome == "none"
