"""In a group chat each member is on their own: nobody confirms for another, private matters
are refused there, and no member's form swallows what others write."""

from __future__ import annotations

from bot.core.commands import text_event
from bot.core.types import Inbound
from tests.harness import Harness


def group_event(user: str, text: str) -> Inbound:
    return text_event("telegram", "telegram:-100777", f"telegram:{user}", text)


async def test_in_a_group_one_member_cannot_confirm_for_another(bot: Harness) -> None:
    await bot.send(text_event("telegram", "telegram:2", "telegram:2", "/subscribe news"))
    [refused] = await bot.send(group_event("1", "/deleteme"))
    assert "私聊" in refused.plain
    await bot.send(group_event("1", "/profile"))
    replies = await bot.send(group_event("2", "确认"))
    assert all("已删除" not in r.plain for r in replies)
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address("telegram:2")
        assert client is not None and client.erased_at is None
        assert await tx.subscriptions.of(client.id) == ["news"]


async def test_group_flows_are_per_person(bot: Harness) -> None:
    """A complaint started from a group is refused there (a private matter), and opens no
    form that would swallow what that member, or another, writes next."""
    await bot.send(group_event("1", "/start"))
    [refused] = await bot.send(
        Inbound(
            "telegram",
            "telegram:-100777",
            "telegram:1",
            kind="callback",
            callback_data="menu:complaint",
        )
    )
    assert "私聊" in refused.plain
    [other] = await bot.send(group_event("2", "怎么开户"))
    assert "开户" in other.plain, "member 2 is not inside member 1's complaint flow"
    [mine] = await bot.send(group_event("1", "客服态度不好"))
    assert "请点击上面的按钮继续" not in mine.plain, "nor is member 1 inside a form"
