"""Markup helpers for the small HTML subset messages use: escaping, stripping, splitting."""

from __future__ import annotations

import html
import re

from bot.core.folding import INVISIBLE

_TAG = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>")


def escape(value: object) -> str:
    return html.escape(str(value), quote=False)


def to_plain(markup: str) -> str:
    """Markup -> plain text, for channels without formatting."""
    return html.unescape(_TAG.sub("", markup))


def visible_length(markup: str) -> int:
    return len(to_plain(markup))


def clean_input(text: str) -> str:
    """Normalise what a person typed: drop invisible controls, trim whitespace."""
    return INVISIBLE.sub("", text).strip()


def split_text(markup: str, limit: int, *, margin: int = 16) -> list[str]:
    """Split at paragraph, then line, then word boundaries so each part fits `limit`.

    Parts are measured in raw markup, which is never shorter than what the platform
    counts; a tag open at a cut is closed there and reopened in the next part. `margin`
    keeps room for closing tags (0 for plain text, where a part may fill the limit).
    """
    if len(markup) <= limit:
        return [markup]
    parts: list[str] = []
    rest = markup
    carry: list[str] = []  # tags reopened at the start of `rest`
    while rest:
        prefix = "".join(f"<{t}>" for t in carry)
        budget = limit - len(prefix) - sum(len(t) + 3 for t in carry) - margin
        if len(prefix) + len(rest) <= limit:
            parts.append(prefix + rest)
            break
        cut = _cut_point(rest, max(budget, 1))
        chunk, rest = rest[:cut], rest[cut:].lstrip("\n")
        opened = _open_tags(carry, chunk)
        parts.append(prefix + chunk.rstrip() + "".join(f"</{t}>" for t in reversed(opened)))
        carry = opened
    return [p for p in parts if to_plain(p).strip()]


def _cut_point(text: str, budget: int) -> int:
    window = text[:budget]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > budget // 3:
            return _safe(text, at + len(sep))
    return _safe(text, budget)


def _safe(text: str, cut: int) -> int:
    """Move a cut back so it never lands inside a tag or an entity."""
    lt, gt = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
    if lt > gt:
        cut = lt
    amp, semi = text.rfind("&", 0, cut), text.rfind(";", 0, cut)
    if amp > semi and cut - amp < 10:
        cut = amp
    return max(cut, 1)


def _open_tags(carry: list[str], chunk: str) -> list[str]:
    stack = list(carry)
    for closing, name in _TAG.findall(chunk):
        name = name.lower()
        if closing and name in stack:
            del stack[len(stack) - 1 - stack[::-1].index(name)]
        elif not closing:
            stack.append(name)
    return stack


def sheet_cell(value: str) -> str:
    """A value a spreadsheet will show, never run: `=HYPERLINK(…)` is written as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
