"""The compliance screen shared by FAQ answers, advisor replies and broadcasts: phrases an
advisory firm may never send (证券投资顾问业务暂行规定 §19, 广告法 §25).

Text and phrases are compared in a folded form, so that 穩賺, 稳·赚, 保 本, RISK-FREE and
Ｒｉｓｋ free all meet their phrase: NFKC, case-folded, traditional -> simplified, and with
whitespace, punctuation and symbols (Unicode categories Z*, P*, S*) removed. Latin phrases
match whole words only ("no risk" does not hit "casino risk"), and their words may not be
split by a clause mark ("no, risk" is not "no risk"). A phrase right after a plain negation
(不保本, 不能保证收益, "we cannot guarantee a profit") is an honest statement, not a promise.
Concrete return figures (月收益20%, "20% monthly return") are caught by pattern.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.core.folding import fold as _fold

FORBIDDEN = (
    "保证收益", "保本", "稳赚", "零风险", "无风险", "稳赚不赔", "包赚", "亏损包赔", "收益分成",
    "代客操盘", "保证赚钱", "保证盈利", "保证获利", "保收益", "只赚不赔", "稳赢", "必赚", "包赔",
    "保你赚", "零亏损", "翻倍收益", "包你赚", "一定赚钱", "保障收益", "本金安全", "绝对不会亏",
    "不会亏损", "肯定赚", "稳定盈利", "本金无忧", "保证不亏", "稳赚不亏",
    "guaranteed return", "guaranteed profit", "guarantee profit", "guarantee a profit",
    "risk-free", "no risk", "can't lose", "cannot lose",
)  # fmt: skip

# Marks that end a clause: Latin words of one phrase may not straddle them.
_CLAUSE = set(",.;:!?。、…")
_HARD, _SOFT = "\x00", "\x01"  # stand-ins for a removed clause mark / other removed character
_LATIN = re.compile(r"[a-z0-9]")
# A negation right before a phrase turns it into an honest statement.
_NEGATION_ZH = re.compile(
    r"(?:不|没|没有|无法|不能|不会|不可能|并不|决不|绝不|从不|从未|不存在|不承诺|不保证"
    r"|不能保证|无法保证|没法保证|不敢保证|不可能保证|不能确保|无法确保)$"
)
_NEGATION_EN = re.compile(
    r"(?<![a-z0-9])(?:not|never|cannot|can\x01?t|don\x01?t|doesn\x01?t|won\x01?t"
    r"|no\x01one\x01can|nobody\x01can|no)(?:\x01+(?:any|a|an))?\x01*$"
)
# Innocent words that contain a phrase: 确保本人 (make sure it is you) is not 保本.
# Checked over the phrase with two characters either side.
_INNOCENT = {"保本": re.compile(r"[确担]保本[人次月周年日地页条号单期机公平]")}
_RETURN_ZH = re.compile(
    r"(?:每|一个|1个)?(?:月|年|日|天|周|星期|季度?|年化)?"
    r"(?:收益率?|回报率?|利润率?|盈利|获利|利润|赚|年化)"
    r"(?:可达|高达|达到|达|至少|超过|不低于|稳定在|保持在|有|能有|约|在)?"
    r"(?:\d+(?:\.\d+)?%|百分之[\d零一二三四五六七八九十百]+)"
)
# The figure first: 20%的月收益, 百分之三十的年化回报.
_RETURN_ZH_AFTER = re.compile(
    r"(?:\d+(?:\.\d+)?%|百分之[\d零一二三四五六七八九十百]+)的?"
    r"(?:每)?(?:月|年|日|天|周|季度?)?(?:化)?(?:收益率?|回报率?|利润率?|盈利|获利)"
)
_RETURN_EN = re.compile(
    r"(?<![a-z0-9.])\d+(?:\.\d+)?\s*%\s*(?:(?:a|per)\s+(?:day|week|month|year)\s+)?"
    r"(?:(?:daily|weekly|monthly|annual|annualized|annualised|yearly)\s+)?"
    r"(?:return|profit|gain|yield)s?(?![a-z])"
    r"|(?<![a-z])(?:daily|weekly|monthly|annual|annualized|annualised|yearly)\s+"
    r"(?:return|profit|gain|yield)s?\s+(?:of\s+)?\d+(?:\.\d+)?\s*%"
)


def forbidden_in(text: str) -> list[str]:
    """The phrases of FORBIDDEN that `text` uses (as written there), then any return figure."""
    folded = _fold(text)
    marked = _mark(folded)
    found = [p for p, pattern in _patterns() if _promises(phrase=p, pattern=pattern, marked=marked)]
    figures = "".join(ch for ch in folded if ch in "%." or not _removed(ch))
    spaced = re.sub(r"\s+", " ", "".join(ch for ch in folded if not _invisible(ch)))
    matches = [*_RETURN_ZH.finditer(figures), *_RETURN_ZH_AFTER.finditer(figures)]
    for match in [*matches, *_RETURN_EN.finditer(spaced)]:
        if match.group(0) not in found:
            found.append(match.group(0))
    return found


def _removed(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "ZPSC"


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "C" and not ch.isspace()


def _mark(folded: str) -> str:
    """Each removed character replaced by _HARD (a clause mark) or _SOFT (anything else)."""
    return "".join((_HARD if ch in _CLAUSE else _SOFT) if _removed(ch) else ch for ch in folded)


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """One pattern per phrase over the marked text. Chinese: any removed characters may sit
    between the characters. Latin: whole words; a clause mark may not sit between words."""
    any_gap = f"[{_HARD}{_SOFT}]*"
    out = []
    for phrase in FORBIDDEN:
        folded = _fold(phrase)
        if not _LATIN.search(folded):
            chars = [c for c in folded if not _removed(c)]
            out.append((phrase, re.compile(any_gap.join(map(re.escape, chars)))))
            continue
        words = [w for w in re.split(r"[\s\-]+", folded) if w]
        parts = [any_gap.join(re.escape(c) for c in w if not _removed(c)) for w in words]
        body = f"[{_SOFT}]*".join(parts)
        out.append((phrase, re.compile(rf"(?<![a-z0-9]){body}s?(?![a-z0-9])")))
    return out


def _promises(phrase: str, pattern: re.Pattern[str], marked: str) -> bool:
    """True if some use of the phrase is neither negated nor part of an innocent word.
    A negation counts only when no clause mark stands between it and the phrase."""
    innocent = _INNOCENT.get(phrase)
    for match in pattern.finditer(marked):
        before = marked[: match.start()]
        if _LATIN.match(match.group(0)):
            if not _NEGATION_EN.search(before):
                return True
            continue
        before = before.replace(_SOFT, "")[-6:]
        after = marked[match.end() :].replace(_SOFT, "")[:2]
        if innocent and innocent.search(before[-2:] + match.group(0).replace(_SOFT, "") + after):
            continue
        if not _NEGATION_ZH.search(before):
            return True
    return False
