"""The compliance screen: promises of returns are caught however they are written, honest
statements (including everything the shipped knowledge base says) are not."""

from __future__ import annotations

import pytest

from bot.core.compliance import FORBIDDEN, forbidden_in
from handlers.faq.index_cache import DEFAULT_KB
from handlers.faq.kb_file import COMPLIANCE_TAGS, read_file


@pytest.mark.parametrize("phrase", FORBIDDEN)
def test_every_phrase_is_caught_as_written(phrase: str) -> None:
    assert phrase in forbidden_in(f"开户后{phrase}。") or phrase in forbidden_in(f"Hi, {phrase}!")


@pytest.mark.parametrize(
    "text,phrase",
    [
        ("保證收益", "保证收益"),
        ("跟着做穩賺", "稳赚"),
        ("本产品保 本", "保本"),
        ("稳·赚", "稳赚"),
        ("保\u200b本", "保本"),
        ("保\n本", "保本"),
        ("保证\t盈利", "保证盈利"),
        ("包 賠", "包赔"),
        ("零虧損", "零亏损"),
        ("RISK-FREE", "risk-free"),
        ("Ｒｉｓｋ free", "risk-free"),
        ("a riskfree plan", "risk-free"),
        ("There is NO RISK at all", "no risk"),
        ("Guaranteed Returns every month", "guaranteed return"),
        ("guaranteed  profits", "guaranteed profit"),
        ("we guarantee a profit", "guarantee a profit"),
        ("you can’t lose", "can't lose"),
        ("You CANNOT lose", "cannot lose"),
        ("只赚不赔", "只赚不赔"),
        ("保你赚", "保你赚"),
        ("必賺", "必赚"),
        ("穩贏", "稳赢"),
    ],
)
def test_disguised_promises_are_caught(text: str, phrase: str) -> None:
    assert phrase in forbidden_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "月收益20%",
        "年化收益15%",
        "年化收益率:１５．５％",
        "日赚5%",
        "每月回报 30 %",
        "收益可达百分之三十",
        "20% monthly return",
        "a 3.5% weekly profit",
        "monthly return of 20%",
    ],
)
def test_return_figures_are_caught(text: str) -> None:
    assert forbidden_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "我们不承诺任何收益,市场有涨有跌。",
        "We do not guarantee any return.",
        "We cannot guarantee a profit; trading can lose money.",
        "There are no guaranteed returns.",
        "本产品不保本,投资有风险。",
        "请确保本人操作,不要把密码告诉别人。",
        "保证金比例10%,以交易软件为准。",
        "亏损可能超过20%。",
        "Is there a casino risk?",
        "No, risk assessment is done online.",
        "no; risk warnings are sent daily",
        "Investing involves risk; trade with care.",
        "收益率有多少?",
    ],
)
def test_honest_statements_pass(text: str) -> None:
    assert forbidden_in(text) == []


def test_negation_across_a_clause_mark_does_not_excuse() -> None:
    assert forbidden_in("不,保本!") == ["保本"]
    assert forbidden_in("Not really. Guaranteed returns!") == ["guaranteed return"]
    assert forbidden_in("not only guaranteed returns") == ["guaranteed return"]


def test_every_hit_is_named_once_as_written() -> None:
    assert forbidden_in("稳赚不赔,RISK FREE,risk-free") == ["稳赚", "稳赚不赔", "risk-free"]
    assert forbidden_in("月收益20%") == ["月收益20%"]


def test_shipped_knowledge_base_is_clean() -> None:
    for entry in read_file(DEFAULT_KB):
        texts = [entry.question, entry.category, entry.answer]
        texts += [b["label"] for b in entry.buttons]
        if not COMPLIANCE_TAGS & {t.casefold() for t in entry.tags}:
            texts += entry.variants
        assert [(t, forbidden_in(t)) for t in texts if forbidden_in(t)] == [], entry.id


@pytest.mark.parametrize(
    "text",
    [
        "包你赚",
        "一定赚钱",
        "保障收益",
        "本金安全",
        "绝对不会亏",
        "不会亏损",
        "20%的月收益",
        "百分之三十的年化回报",
    ],
)
def test_more_ways_to_promise_returns_are_caught(text: str) -> None:
    assert forbidden_in(text)


@pytest.mark.parametrize(
    "text", ["我们不能保证不会亏损", "无法保证本金安全", "手续费为成交额的0.1%", "亏损可能超过20%"]
)
def test_honest_statements_about_them_pass(text: str) -> None:
    assert forbidden_in(text) == []
