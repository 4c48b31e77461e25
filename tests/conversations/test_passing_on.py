"""Features that have nothing to say about a message pass it on by routing, and the FAQ (or
whatever route matches next) answers: an expired form, a late return-visit comment, an
advisor quoting a message that is not about a ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.harness import Harness, Sent

QUESTION = "怎么开户"  # the shipped knowledge base answers it


def from_faq(reply: Sent) -> bool:
    return any(data.startswith("faq:") for data in reply.callbacks)


async def backdate(bot: Harness, state: str, minutes: int, **data: Any) -> None:
    """Put alice in `state`, begun `minutes` ago (as if she had walked away)."""
    async with bot.app.db.write() as tx:
        started = (tx.now() - timedelta(minutes=minutes)).isoformat()
        await tx.states.set("console:alice", state, {**data, "started": started})


async def state_of(bot: Harness) -> str | None:
    async with bot.app.db.read() as tx:
        current = await tx.states.get("console:alice")
    return current.state if current else None


async def test_an_expired_form_says_so_then_the_message_is_answered(bot: Harness) -> None:
    await bot.press("menu:complaint")
    await backdate(bot, "ticket.category", 31)
    gone, answer = await bot.say(QUESTION)
    assert "超过时限未提交" in gone.plain and gone.buttons == []
    assert from_faq(answer)
    assert await state_of(bot) is None


async def test_an_expired_form_passes_a_keyword_to_its_feature(bot: Harness) -> None:
    """Answered as usual: what would subscribe a client outside the form subscribes them."""
    await bot.press("menu:advisor")
    await backdate(bot, "ticket.question", 31)
    gone, *answer = await bot.say("订阅早盘")
    assert "超过时限" in gone.plain
    assert await bot.subs() != []
    assert not any(from_faq(s) for s in answer)


async def test_a_late_return_visit_comment_is_a_new_question(bot: Harness) -> None:
    await bot.say("你好")
    await backdate(bot, "rv.comment", 61, wave=1)
    [answer] = await bot.say(QUESTION)
    assert from_faq(answer)
    assert await state_of(bot) is None


async def test_a_return_visit_comment_in_time_is_thanked(bot: Harness) -> None:
    await bot.say("你好")
    await backdate(bot, "rv.comment", 5, wave=1)
    [thanks] = await bot.say("服务很好")
    assert "感谢您抽出时间" in thanks.plain
    assert not from_faq(thanks)


async def test_an_advisor_quoting_something_else_gets_the_faq(bot: Harness) -> None:
    await bot.say("/grant console:adv1 advisor", user="admin")
    [answer] = await bot.say(QUESTION, user="adv1", reply_to="no-such-message")
    assert from_faq(answer)
