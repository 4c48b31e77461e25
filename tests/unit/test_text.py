"""Escaping, splitting and command parsing: the pure helpers every channel relies on."""

from __future__ import annotations

import pytest

from bot.core.commands import parse_command, text_event
from bot.core.text import clean_input, escape, split_text, to_plain


def test_escape_and_plain_round_trip() -> None:
    hostile = '<script>&amp;"x"</script>'
    assert to_plain(escape(hostile)) == hostile
    assert "<" not in escape(hostile)


def test_clean_input_drops_invisible_controls() -> None:
    assert clean_input("\u200bT\u200dD\u202e ") == "TD"


def test_split_prefers_paragraphs_then_lines() -> None:
    text = "\n\n".join(f"第{i}段 " + "字" * 50 for i in range(10))
    parts = split_text(text, 200)
    assert all(len(p) <= 200 for p in parts)
    assert all(p.startswith("第") for p in parts), "cuts fall on paragraph starts"
    assert "".join(to_plain(p).replace("\n", "") for p in parts) == text.replace("\n", "")


def test_split_long_line_without_spaces() -> None:
    parts = split_text("银" * 10_000, 4096)
    assert [len(p) for p in parts] == [4080, 4080, 1840]


def test_split_never_breaks_tags_or_entities() -> None:
    text = "<b>" + "&amp;" * 2000 + "</b>"
    parts = split_text(text, 300)
    for part in parts:
        assert len(part) <= 300
        assert part.startswith("<b>") and part.endswith("</b>")
        assert to_plain(part).replace("&", "") == ""


def test_short_text_untouched() -> None:
    assert split_text("hi", 4096) == ["hi"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ("start", [])),
        ("/Subscribe@my_bot 早盘  晚盘", ("subscribe", ["早盘", "晚盘"])),
        ("／unsubscribe news", ("unsubscribe", ["news"])),
        ("\u200b/start", ("start", [])),
        ("/", None),
        ("/ start", None),
        ("hello /start", None),
        ("", None),
    ],
)
def test_parse_command(text: str, expected: tuple[str, list[str]] | None) -> None:
    assert parse_command(text) == expected


def test_text_event_kinds() -> None:
    assert text_event("console", "console:a", "console:a", "/help").kind == "command"
    assert text_event("console", "console:a", "console:a", "help").kind == "text"
