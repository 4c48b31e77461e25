"""The one comparable form of text, shared by keyword routing, FAQ matching and the
compliance screen: NFKC (full-width to half-width), invisible controls dropped, case-folded,
traditional characters read as simplified."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

# Zero-width and bidi controls: invisible, and can disguise commands or reorder text.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_T2S = opencc.OpenCC("t2s.json")
_CACHED_UP_TO = 256  # short texts (commands, keywords, questions) repeat; long ones rarely


def fold(text: str) -> str:
    """`穩賺`, `ＲＩＳＫ` and `退\u200b订` become `稳赚`, `risk` and `退订`."""
    return _fold_short(text) if len(text) <= _CACHED_UP_TO else _fold(text)


def _fold(text: str) -> str:
    return _T2S.convert(unicodedata.normalize("NFKC", INVISIBLE.sub("", text)).casefold())


_fold_short = lru_cache(maxsize=8192)(_fold)
