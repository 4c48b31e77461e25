"""Text normalisation for matching: width, case, traditional -> simplified, synonyms, tokens."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from itertools import pairwise

from bot.core.folding import fold

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:'[a-z]+)?")
# Particles and fillers that carry no meaning on their own in a short question.
CJK_STOP = set("的了吗呢啊吧呀嘛么哦噢哈哇呐请问您你我想要能会该是在有个一下这那就还都也和与及或")
EN_STOP = {
    "a", "an", "the", "i", "me", "my", "you", "your", "we", "is", "are", "am", "be", "do",
    "does", "did", "to", "of", "in", "on", "at", "for", "it", "this", "that", "can", "could",
    "would", "should", "please", "how", "what", "when", "where", "which", "who", "why", "there",
    "and", "or", "with", "about", "any", "some", "have", "has", "get", "hi", "hello", "pls",
}  # fmt: skip


# Interchangeable characters people mix freely (帐户/账户, 到帐/到账).
_VARIANTS = str.maketrans({"帐": "账"})


def is_cjk(ch: str) -> bool:
    return bool(re.match(rf"[{_CJK}]", ch))


@lru_cache(maxsize=4096)
def _base(text: str) -> str:
    return fold(text).translate(_VARIANTS)


class Synonyms:
    """Rewrites every known term to its canonical word, longest term first."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = {_words(k): _words(v) for k, v in table.items() if _words(k)}
        terms = sorted(self.table, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(_term_pattern, terms))) if terms else None

    def apply(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.table[m.group(0)], text)


def _term_pattern(term: str) -> str:
    """Latin terms match whole words only ("app" must not hit "happy")."""
    escaped = re.escape(term)
    if term[:1].isascii() and term[:1].isalnum():
        escaped = r"(?<![a-z0-9])" + escaped
    if term[-1:].isascii() and term[-1:].isalnum():
        escaped += r"(?![a-z0-9])"
    return escaped


def normalize(text: str, synonyms: Synonyms | None = None) -> str:
    """Comparable form: NFKC, case-folded, simplified, synonyms applied, only words kept."""
    words = _words(text)
    return synonyms.apply(words) if synonyms is not None else words


def _words(text: str) -> str:
    return " ".join(_RUNS.findall(_base(text)))


def tokens(normalized: str) -> list[str]:
    """Chinese: character unigrams and bigrams, plus pinyin bigrams so that a homophone
    picked by the input method (出斤 for 出金) still meets its word. Other text: words."""
    out: list[str] = []
    for run in normalized.split():
        if is_cjk(run[0]):
            out.extend(ch for ch in run if ch not in CJK_STOP)
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
            sounds = _pinyin(run)
            out.extend(f"{a}_{b}" for a, b in pairwise(sounds))
        elif run not in EN_STOP:
            out.append(_stem(run))
    return out


@lru_cache(maxsize=8192)
def _pinyin(run: str) -> list[str]:
    # Imported when first needed: pypinyin reads its phrase dictionary on import (about
    # 0.4 s), which every `python -m bot` command would pay though few match questions.
    from pypinyin import lazy_pinyin

    return lazy_pinyin(run)


def _stem(word: str) -> str:
    """Just enough English stemming for FAQ questions (accounts/account, fees/fee)."""
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
