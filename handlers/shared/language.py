"""Which language a client wrote in: Mandarin (standard written Chinese, either script),
Cantonese, English, or one the bot does not serve. Script counts decide between Chinese,
Latin and other scripts; `cantonesedetect` (its features are traditional characters, so
simplified text is converted first) decides Cantonese within Chinese.

benchmarks/mood.py measures it on tests/data/dialect.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import opencc
from cantonesedetect.Detector import CantoneseDetector
from cantonesedetect.JudgementTypes import JudgementType

from bot.core.folding import fold

Language = Literal["mandarin", "cantonese", "english", "other"]
LANGUAGES: tuple[Language, ...] = ("mandarin", "cantonese", "english", "other")

_S2HK = opencc.OpenCC("s2hk.json")
_DETECTOR = CantoneseDetector()
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\uac00-\ud7af]")
# Cyrillic, Greek, Arabic, Hebrew, Indic, Thai and the like: scripts the bot does not serve.
OTHER_SCRIPT = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0900-\u0dff\u0e00-\u0eff]")
LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff']+")
ACCENTED = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")
# Cantonese as typed in simplified script on the mainland, which cantonesedetect's
# (traditional) features miss even after conversion: 系 stays 系, 咩 is not among them.
CANTONESE_SIMPLIFIED = re.compile(r"系咪|唔系|系唔系|咩|几耐|幾耐|蚀咗|蝕咗|边个|邊個|乜嘢")
# Mandarin that reads as a Cantonese feature once converted: 几点会 (點會), 然而家里 (而家).
MANDARIN_COLLISIONS = re.compile(r"[几幾一有差早晚快慢多][点點]|然而")
# Function words an English sentence almost always has; Latin text without any (pinyin,
# French) is not English unless it is a word or two ("ok", "withdrawal").
ENGLISH = frozenset(
    "i me my you your we our us he she it they the a an is are was were be been am do does did "
    "can could would will should to of in on at for with from by and or but not no yes how what "
    "when where why who which this that there please pls thanks thank hi hello hey ok okay "
    "sorry money account anyone someone".split()
)
_CACHED_UP_TO = 256


def language_of(text: str) -> Language:
    """ "mandarin" also for text with nothing to tell (digits, emoji): the bot's own language."""
    return _cached(text) if len(text) <= _CACHED_UP_TO else _language_of(text)


def _language_of(text: str) -> Language:
    if KANA_HANGUL.search(text):  # Japanese uses Han characters too: kana decide
        return "other"
    han = len(HAN.findall(text))
    others = len(OTHER_SCRIPT.findall(text))
    # Capitals are names ("XAU/USD", "MT4"), not English sentences inside Chinese.
    words = [w for w in LATIN_WORD.findall(text) if not (w.isupper() and len(w) <= 5)]
    if others > han + len(words):
        return "other"
    if han and han >= 2 * len(words):
        return "cantonese" if _cantonese(text) else "mandarin"
    if not words:
        return "mandarin"
    if len(ACCENTED.findall(text)) >= 2:
        return "other"  # Vietnamese, French …
    if len(words) <= 2 or any(w.lower() in ENGLISH for w in words):
        return "english"
    return "other"


_cached = lru_cache(maxsize=4096)(_language_of)


def _cantonese(text: str) -> bool:
    if CANTONESE_SIMPLIFIED.search(text):
        return True
    judgement = _DETECTOR.judge(_S2HK.convert(MANDARIN_COLLISIONS.sub("", text)))
    return judgement in (JudgementType.CANTONESE, JudgementType.MIXED)


# What an advisor may write after `/duty langs` (folded: case and script do not matter).
NAMES: dict[str, Language] = {
    **dict.fromkeys(("粤语", "广东话", "白话", "cantonese", "yue"), "cantonese"),
    **dict.fromkeys(("英语", "英文", "english", "en"), "english"),
    **dict.fromkeys(("普通话", "国语", "中文", "mandarin", "zh"), "mandarin"),
}
SEPARATORS = re.compile(r"[\s,,、;;/]+")


def parse_languages(text: str) -> tuple[list[Language], list[str]]:
    """("粤语, English" -> ["cantonese", "english"], words not understood)."""
    found: list[Language] = []
    unknown: list[str] = []
    for word in filter(None, SEPARATORS.split(text)):
        language = NAMES.get(fold(word).strip())
        if language is None:
            unknown.append(word)
        elif language not in found:
            found.append(language)
    return found, unknown
