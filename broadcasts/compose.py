"""What a broadcast says: the staff member's text, escaped, under a header for the kinds that
must stand out (an intraday alert), with the risk-warning line on advisory topics, in each
language, split to the platform's size in order."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.i18n import LANGUAGES, Translator
from bot.core.text import escape, split_text

MAX_INPUT = 4096  # what staff may write; the final text with its risk line may be split
PART_LIMIT = 4096  # Telegram's message size, the smallest of the channels served today


def final_texts(
    text: str,
    t: Translator,
    *,
    advisory: bool,
    header: str | None = None,
    markup: bool = False,
) -> dict[str, list[str]]:
    """language -> the parts every recipient of that language gets, in order; `header` is
    the catalog key of a first line in the recipient's language. `markup`: the text was built
    from the catalog (its values already escaped), so it is not escaped again."""
    body = text.strip() if markup else escape(text.strip())
    out: dict[str, list[str]] = {}
    for language in LANGUAGES:
        tl = t.with_lang(language)
        full = f"{tl(header)}\n{body}" if header else body
        full = f"{full}\n\n{tl('broadcast.risk_line')}" if advisory else full
        out[language] = split_text(full, PART_LIMIT)
    return out


def is_advisory(topics: Iterable[str], advisory_keys: set[str]) -> bool:
    return any(key in advisory_keys for key in topics)
