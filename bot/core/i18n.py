"""The message catalog: every text a person sees, Chinese first, English too."""

from __future__ import annotations

import functools
import string
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from bot.core.text import escape

LANGUAGES = ("zh", "en")
LOCALES = Path(__file__).resolve().parent.parent / "locales"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


class Catalog:
    """Loads `bot/locales/<lang>.toml`; a key missing in one language falls back to Chinese."""

    def __init__(self, directory: Path = LOCALES) -> None:
        self.texts: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            with (directory / f"{lang}.toml").open("rb") as fh:
                self.texts[lang] = _flatten(tomllib.load(fh))

    def raw(self, lang: str, key: str) -> str:
        texts = self.texts.get(lang) or self.texts["zh"]
        if key in texts:
            return texts[key]
        if key in self.texts["zh"]:
            return self.texts["zh"][key]
        raise KeyError(f"no catalog text {key!r}")

    def placeholders(self, lang: str, key: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(self.raw(lang, key)) if f}


@dataclass(frozen=True, slots=True)
class Translator:
    """Catalog bound to one language and the firm's name; escapes every value it inserts."""

    catalog: Catalog
    lang: str
    firm: str

    def __call__(self, key: str, /, **values: Any) -> str:
        safe = {k: v.markup if isinstance(v, Markup) else escape(v) for k, v in values.items()}
        safe.setdefault("firm", escape(self.firm))
        return self.catalog.raw(self.lang, key).format_map(safe)

    def has(self, key: str) -> bool:
        return key in self.catalog.texts["zh"]

    def with_lang(self, lang: str) -> Translator:
        return Translator(self.catalog, lang if lang in LANGUAGES else "zh", self.firm)

    def span(self, length: timedelta) -> str:
        """A length of time as a person reads it: "30 分钟" under an hour, else "4 小时" or
        "1.5 小时"; rounded half up (never to zero), so a promise is not shortened."""
        minutes = _half_up(Decimal(length.total_seconds()) / 60, "1")
        if minutes < 60:
            n = max(minutes, Decimal(1))
            return self("common.span_minute") if n == 1 else self("common.span_minutes", n=n)
        n = _half_up(minutes / 60, "0.1").normalize()
        return self("common.span_hour") if n == 1 else self("common.span_hours", n=f"{n:f}")


def _half_up(value: Decimal, step: str) -> Decimal:
    return value.quantize(Decimal(step), rounding=ROUND_HALF_UP)


@functools.cache
def default_translator() -> Translator:
    """Chinese from the shipped catalog, for parts built without the app's translator."""
    return Translator(Catalog(), "zh", "")


@dataclass(frozen=True, slots=True)
class Markup:
    """A value that is already safe markup (built from catalog texts), inserted as is."""

    markup: str
