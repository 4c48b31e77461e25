"""The upset and language detectors on a few clear cases (their figures on the labelled sets
are benchmarks/mood.py's business)."""

from __future__ import annotations

import pytest

from handlers.shared.language import language_of, parse_languages
from handlers.shared.mood import Lexicon, upset


@pytest.mark.parametrize(
    "text",
    [
        "我亏了好多钱,你们的分析师就是骗子!!!",
        "垃圾平台 出金出不来 我要曝光你们",
        "到底怎么回事???我的钱呢???",
        "WHY IS MY ACCOUNT FROZEN",
        "你們這些騙子,還我錢!",  # traditional characters read as simplified
    ],
)
def test_upset(text: str) -> None:
    assert upset(text).upset


@pytest.mark.parametrize(
    "text",
    [
        "我上个月亏了2000,手续费怎么算?",
        "出金三天了还没到,帮忙看看什么情况",
        "你们不是骗子吧?我朋友推荐我来的",  # a question of trust, not an accusation
        "太好了!!!终于回本了",  # joy, not anger
        "USD/CNH 和 XAU/USD 的行情在哪里看",  # capitals that are names
    ],
)
def test_not_upset(text: str) -> None:
    assert not upset(text).upset


def test_reasons_say_why() -> None:
    signal = upset("我亏了好多钱,你们的分析师就是骗子!!!")
    assert "accuse:骗子" in signal.reasons and "loss_blame" in signal.reasons
    assert "shouting:!!!" in signal.reasons


def test_the_same_question_again_and_again_is_insistence() -> None:
    question = "出金什么时候到账"
    assert not upset(question, [(3000.0, question)]).upset, "50 minutes apart: asking again"
    assert upset(question, [(40.0, question), (95.0, question + "?")]).upset


def test_the_firm_extends_the_lexicon() -> None:
    lexicon = Lexicon.parse({"insult": ["忽悠瘸了"], "weights": {"insult": 2.0, "upset_at": 2.0}})
    assert upset("被你们忽悠瘸了", lexicon=lexicon).upset
    assert not upset("被你们忽悠瘸了", lexicon=Lexicon.parse({})).upset


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我想问下点样出金", "cantonese"),
        ("唔該幫我查下我個戶口", "cantonese"),
        ("系咪要交手续费㗎?", "cantonese"),
        ("我想问一下怎么出金", "mandarin"),
        ("請問怎麼開戶?", "mandarin"),  # traditional script is not Cantonese
        ("晚上几点会公布非农数据", "mandarin"),
        ("MT4 登录不了", "mandarin"),
        ("How do I withdraw money?", "english"),
        ("Is 出金 free of charge?", "english"),
        ("출금은 언제 되나요?", "other"),
        ("Как вывести деньги?", "other"),
        ("12345", "mandarin"),
    ],
)
def test_language_of(text: str, language: str) -> None:
    assert language_of(text) == language


def test_language_names_an_advisor_may_write() -> None:
    assert parse_languages("粤语, English、廣東話") == (["cantonese", "english"], [])
    assert parse_languages("火星语") == ([], ["火星语"])
