"""The opt-out words (退订, TD, stop) work however they are typed and in the middle of a
form, and the cancel word leaves a form."""

from __future__ import annotations

import pytest

from tests.harness import Harness


@pytest.mark.parametrize("word", ["TD!", "ＴＤ", "Ｔ Ｄ", "退订。", "td", "Stop!", "退订!!"])
async def test_opt_out_words_survive_punctuation_and_width(bot: Harness, word: str) -> None:
    await bot.say("/subscribe news morning")
    assert "全部 2 项" in await bot.text(word)
    assert await bot.subs() == []


async def test_opt_out_works_in_the_middle_of_a_flow(bot: Harness) -> None:
    await bot.say("/subscribe morning")
    await bot.press("menu:complaint")
    assert "全部 1 项" in await bot.text("TD")
    assert await bot.subs() == []
    async with bot.app.db.read() as tx:
        assert await tx.audit.recent("ticket.open") == [], "TD was not taken as a complaint"


async def test_cancel_word_leaves_a_flow(bot: Harness) -> None:
    await bot.press("menu:complaint")
    assert "已取消" in await bot.text("取消!")
    assert "没有把握" not in await bot.text("你好")
