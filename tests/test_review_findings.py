"""Behaviour a real client relies on, found by trying the bot as one."""

from __future__ import annotations

import pytest

from bot.core.commands import text_event
from bot.core.types import Inbound
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


@pytest.mark.parametrize("text", ["你好", "您好!", "hello", "谢谢", "好的", "再见"])
async def test_small_talk_is_not_an_unanswered_question(bot: Harness, text: str) -> None:
    reply = await bot.text(text)
    assert "没有把握" not in reply
    assert "国瑞投资" in reply or "不客气" in reply
    async with bot.app.db.read() as tx:
        assert await tx.faq.unanswered_since(tx.now().replace(year=2000)) == []


async def test_answers_follow_the_client_language(bot: Harness) -> None:
    [zh] = await bot.say("How do I open an account?")
    assert zh.callbacks[-1].startswith("faq:n:open-account:"), "a Chinese client gets Chinese"
    await bot.say("/lang en")
    [en] = await bot.say("怎么出金")
    assert "faq:n:withdraw-en:" in en.callbacks[-1]


@pytest.mark.parametrize("text", ["订阅要收费吗", "退订了为什么还收到消息", "订阅的资讯什么时候发"])
async def test_questions_about_subscribing_go_to_the_faq(bot: Harness, text: str) -> None:
    reply = await bot.text(text)
    assert "没有找到栏目" not in reply


async def test_subscribe_several_with_and(bot: Harness) -> None:
    await bot.say("订阅早盘和晚盘")
    assert await bot.subs() == ["evening", "morning"]


async def test_command_buttons_run_the_command(bot: Harness) -> None:
    [reply] = await bot.press("cmd:/subscribe news")
    assert "订阅成功" in reply.plain
    [refused] = await bot.press("cmd:/grant telegram:5 staff")
    assert "仅限工作人员" in refused.plain


async def test_bare_numbers_are_not_recorded_as_questions(bot: Harness) -> None:
    assert "没有看懂" in await bot.text("2")
    async with bot.app.db.read() as tx:
        assert await tx.faq.unanswered_since(tx.now().replace(year=2000)) == []


async def test_hand_off_button_of_another_chat_changes_nothing(bot: Harness) -> None:
    [reply] = await bot.say("你们楼下的奶茶好喝吗", user="carol")
    button = next(c for c in reply.callbacks if c.startswith("faq:h:"))
    assert "失效" in (await bot.press(button, user="mallory"))[0].plain
    async with bot.app.db.read() as tx:
        [gap] = await tx.faq.unanswered_since(tx.now().replace(year=2000))
    assert not gap.handed_off


async def test_grant_normalises_addresses(bot: Harness) -> None:
    assert "telegram:123" in await bot.text("/grant Telegram:0123 staff", user="admin")
    async with bot.app.db.read() as tx:
        assert await tx.roles.of("telegram:123") == {"staff"}
