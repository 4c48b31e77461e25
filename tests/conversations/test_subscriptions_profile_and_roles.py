"""Client self-service conversations end to end through the core (no platform)."""

from __future__ import annotations

import pytest

from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def test_start_greets_with_firm_name_and_offers_menu(bot: Harness) -> None:
    [reply] = await bot.say("/start")
    assert "您好" in reply.plain and "国瑞投资" in reply.plain
    assert reply.callbacks == ["sub:view", "menu:faq", "menu:complaint", "menu:advisor"]


async def test_subscribe_by_command_word_and_button(bot: Harness) -> None:
    assert "订阅成功" in await bot.text("/subscribe morning")
    assert "晚盘操作建议" in await bot.text("订阅晚盘")
    assert "盘中风险警示" in await bot.text("订阅 风险")
    [view] = await bot.press("sub:t:news")
    assert view.edit == "1", "a toggle edits the menu it came from"
    assert "✅ 重要消息" in view.plain
    assert await bot.subs() == ["evening", "morning", "news", "risk"]


async def test_subscribe_twice_is_a_no_op(bot: Harness) -> None:
    await bot.say("/subscribe news")
    assert "无需重复订阅" in await bot.text("/subscribe news")
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        history = await tx.subscriptions.history(client.id)
    assert [(e.topic_key, e.action, e.channel, e.actor) for e in history] == [
        ("news", "subscribe", "console", "console:alice")
    ]


async def test_unsubscribe_one_topic(bot: Harness) -> None:
    await bot.say("/subscribe morning evening")
    assert "已退订:早盘操作建议" in await bot.text("退订早盘")
    assert await bot.subs() == ["evening"]
    assert "已退订" in await bot.text("/unsubscribe evening")
    assert await bot.subs() == []


async def test_td_alone_stops_everything_and_says_what_and_how_back(bot: Harness) -> None:
    await bot.say("/subscribe morning evening news")
    reply = await bot.text("TD")
    assert "全部 3 项" in reply
    for name in ("早盘操作建议", "晚盘操作建议", "重要消息"):
        assert name in reply
    assert "订阅" in reply and "/subscribe" in reply
    assert await bot.subs() == []
    assert "没有任何订阅" in await bot.text("退订")


async def test_td_is_case_insensitive_and_ignores_spaces(bot: Harness) -> None:
    await bot.say("/subscribe news")
    assert "全部 1 项" in await bot.text("  td ")


async def test_unknown_topic_lists_the_valid_ones(bot: Harness) -> None:
    reply = await bot.text("/subscribe gold")
    assert "gold" in reply
    for key in ("news", "market", "opportunity", "risk", "morning", "evening", "reports"):
        assert key in reply
    assert await bot.subs() == []


async def test_mysubs_lists_in_topic_order(bot: Harness) -> None:
    assert "没有订阅" in await bot.text("/mysubs")
    await bot.say("/subscribe training news")
    reply = await bot.text("/mysubs")
    assert reply.index("重要消息") < reply.index("培训邀请")


async def test_english_language_switch(bot: Harness) -> None:
    assert "English" in await bot.text("/lang en")
    reply = await bot.text("/subscribe morning")
    assert "Subscribed: Morning trading notes" in reply
    assert "TD" not in reply
    assert "已切换为中文" in await bot.text("/lang zh")


async def test_profile_shows_what_is_stored(bot: Harness) -> None:
    await bot.say("/subscribe news", display_name="王先生")
    reply = await bot.text("/profile")
    assert "王先生" in reply and "console:alice" in reply and "重要消息" in reply


async def test_deleteme_asks_then_erases_and_locks_records(bot: Harness) -> None:
    await bot.say("/subscribe news morning", display_name="王先生")
    [confirm] = await bot.say("/deleteme")
    assert confirm.callbacks == ["del:yes", "del:no"]
    assert await bot.subs() == ["morning", "news"], "nothing happens before confirmation"
    done = await bot.press("del:yes")
    assert "已删除" in done[0].plain
    async with bot.app.db.read() as tx:
        assert await tx.clients.by_address("console:alice") is None
        erased = await tx.clients.get(1)
        old = await tx.messages.for_chat("console:alice")
    assert erased is not None and erased.display_name is None and erased.erased_at is not None
    assert old and all(m.locked for m in old if m.client_id == erased.id)
    assert all(m.client_id is None or m.locked for m in old)
    # They are a stranger now: a new client with no subscriptions.
    await bot.say("/start")
    assert await bot.subs() == []


async def test_deleteme_cancel_keeps_everything(bot: Harness) -> None:
    await bot.say("/subscribe news")
    await bot.say("/deleteme")
    assert "保持不变" in await bot.text("算了")
    assert await bot.subs() == ["news"]
    assert "失效" in (await bot.press("del:yes"))[0].plain, "a stale confirm button does nothing"
    assert await bot.subs() == ["news"]


async def test_deleteme_typed_confirmation(bot: Harness) -> None:
    await bot.say("/subscribe news")
    await bot.say("/deleteme")
    assert "已删除" in await bot.text("确认删除")
    assert await bot.subs() == []


async def test_staff_command_refused_to_client_and_logged(bot: Harness) -> None:
    reply = await bot.text("/grant telegram:5 staff", user="mallory")
    assert "仅限工作人员" in reply
    async with bot.app.db.read() as tx:
        assert await tx.roles.of("telegram:5") == set()
        [entry] = await tx.audit.recent("refused")
    assert entry["actor"] == "console:mallory" and entry["detail"]["command"] == "grant"


async def test_admin_grants_and_revokes_roles(bot: Harness) -> None:
    assert "用法" in await bot.text("/grant nonsense staff", user="admin")
    assert "用法" in await bot.text("/grant telegram:abc staff", user="admin")
    assert "用法" in await bot.text("/grant telegram:5 king", user="admin")
    assert "staff" in await bot.text("/grant telegram:5 staff", user="admin")
    assert "已经是" in await bot.text("/grant telegram:5 staff", user="admin")
    await bot.say("/grant console:bob staff", user="admin")
    assert "telegram:5" in await bot.text("/roles", user="admin")
    # Staff may manage topics now; they may not grant roles.
    assert "栏目已保存" in await bot.text("/topic add gold 黄金快讯 Gold news", user="bob")
    refused = await bot.text("/grant telegram:6 staff", user="bob")
    assert "需要管理员权限" in refused and "您目前的身份是工作人员" in refused
    assert "黄金快讯" in await bot.text("/subscribe gold")
    assert "已撤销" in await bot.text("/revoke telegram:5", user="admin")
    assert "没有可撤销" in await bot.text("/revoke telegram:5", user="admin")


async def test_an_advisor_is_told_the_command_needs_an_admin(bot: Harness) -> None:
    await bot.say("/grant console:adv1 advisor", user="admin")
    refused = await bot.text("/grant telegram:6 staff", user="adv1")
    assert "需要管理员权限" in refused and "投资顾问" in refused and "仅限工作人员" not in refused
    await bot.say("/lang en", user="adv1")
    refused = await bot.text("/grant telegram:6 staff", user="adv1")
    assert "needs the admin role; you are advisor" in refused
    async with bot.app.db.read() as tx:
        assert await tx.roles.of("telegram:6") == set()


async def test_admin_can_view_as_client(bot: Harness) -> None:
    reply = await bot.text("/roles", user="admin", view_as="client")
    assert "仅限工作人员" in reply


async def test_staff_can_disable_a_topic(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    assert "已停用" in await bot.text("/topic off training", user="bob")
    assert "培训邀请" not in await bot.text("/topics")
    stale, view = await bot.press("sub:t:training")
    assert "失效" in stale.plain and "sub:t:training" not in view.callbacks


async def test_help_lists_commands_per_role(bot: Harness) -> None:
    client_help = await bot.text("/help")
    assert "/subscribe" in client_help and "/grant" not in client_help
    assert "/grant" in await bot.text("/help", user="admin")


async def test_subscribe_several_with_and(bot: Harness) -> None:
    await bot.say("订阅早盘和晚盘")
    assert await bot.subs() == ["evening", "morning"]


async def test_command_buttons_run_the_command(bot: Harness) -> None:
    [reply] = await bot.press("cmd:/subscribe news")
    assert "订阅成功" in reply.plain
    [refused] = await bot.press("cmd:/grant telegram:5 staff")
    assert "仅限工作人员" in refused.plain


async def test_grant_normalises_addresses(bot: Harness) -> None:
    assert "telegram:123" in await bot.text("/grant Telegram:0123 staff", user="admin")
    async with bot.app.db.read() as tx:
        assert await tx.roles.of("telegram:123") == {"staff"}
