"""On a channel without buttons the options are numbered when a row is sent; the row was
split leaving room for them, so the message the platform gets still fits its size."""

from __future__ import annotations

from bot.core.delivery.outbox import message_of, render, with_options
from bot.core.i18n import default_translator
from bot.core.types import Button, Capabilities, Outbound

MAX = 600  # WeChat's customer-service text


def test_the_last_part_with_its_numbered_options_fits_and_speaks_the_rows_language() -> None:
    buttons = [[Button(f"选项 {n}" * 5, f"x:{n}") for n in range(1, 6)]]
    out = Outbound("很长的一段话。" * 200, buttons=buttons, lang="en")
    rows = render([out], chat="wechat:o1", capabilities=lambda _c: Capabilities(MAX, False))
    sent = [
        with_options(message_of(r["chat"], r["text"], r["payload"]), default_translator())
        for r in rows
    ]
    assert len(rows) > 1 and all(len(m.text) <= MAX for m in sent)
    assert sent[-1].text.endswith("(reply with a number to choose)")
    assert "1. 选项 1" in sent[-1].text and "1. " not in sent[0].text
