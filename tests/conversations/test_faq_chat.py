"""The FAQ in conversation: answers, ratings, suggestions, honest hand-off, staff upkeep."""

from __future__ import annotations

import pytest

from tests.harness import Harness


async def test_confident_answer_asks_if_it_helped(bot: Harness) -> None:
    [reply] = await bot.say("怎么开户")
    assert "开户" in reply.plain and "国瑞投资" in reply.plain and "{firm}" not in reply.plain
    assert reply.callbacks[-2:] == ["faq:y:open-account:1", "faq:n:open-account:1"]


async def test_helpful_is_counted_once(bot: Harness) -> None:
    await bot.say("怎么开户")
    assert "感谢" in (await bot.press("faq:y:open-account:1"))[0].plain
    assert "已经评价" in (await bot.press("faq:y:open-account:1"))[0].plain
    async with bot.app.db.read() as tx:
        assert (await tx.faq.feedback_counts())["open-account"] == (1, 0)


async def test_not_helpful_records_the_question_and_offers_a_person(bot: Harness) -> None:
    await bot.say("怎么开户")
    [reply] = await bot.press("faq:n:open-account:1")
    assert "faq:h:1" in reply.callbacks
    async with bot.app.db.read() as tx:
        assert (await tx.faq.feedback_counts())["open-account"] == (0, 1)
        [gap] = await tx.faq.unanswered_since(tx.now().replace(year=2000))
    assert gap.text == "怎么开户" and gap.best_entry is None


async def test_unknown_question_is_recorded_never_guessed(bot: Harness) -> None:
    [reply] = await bot.say("你们楼下的奶茶好喝吗")
    assert "没有把握" in reply.plain and reply.callbacks[0] == "faq:h:1"
    [handed] = [s for s in await bot.press("faq:h:1") if s.chat == "console:alice"]
    assert "ZX-" in handed.plain, "a consultation ticket, its number given"
    async with bot.app.db.read() as tx:
        [gap] = await tx.faq.unanswered_since(tx.now().replace(year=2000))
        [audit] = await tx.audit.recent("faq.handoff")
        ticket = await tx.tickets.by_unanswered(gap.id)
    assert ticket is not None and ticket.text == "你们楼下的奶茶好喝吗"
    assert gap.handed_off and gap.text == "你们楼下的奶茶好喝吗"
    assert audit["actor"] == "console:alice"


async def test_suggestions_lead_to_answers_or_a_person(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    # A vague question sits between entries: the bot offers choices, not a guess.
    async with bot.app.db.read() as tx:
        index = await bot.app.faq.index(tx)
    vague = next(
        q
        for q in ("费用", "账户", "密码问题", "顾问", "出金入金")
        if index.match(q).outcome == "suggest"
    )
    [choices] = await bot.say(vague)
    picks = [c for c in choices.callbacks if c.startswith("faq:a:")]
    assert 1 <= len(picks) <= 3 and choices.callbacks[-1].startswith("faq:x:")
    [answer] = await bot.press(picks[0])
    assert answer.callbacks[-1].startswith("faq:n:")
    [none] = await bot.press(choices.callbacks[-1])
    assert "没有把握" in none.plain


async def test_forged_faq_buttons(bot: Harness) -> None:
    await bot.say("怎么开户", user="carol")  # message 1 belongs to carol
    for data in (
        "faq:y:open-account:1",
        "faq:a:nope",
        "faq:h:999",
        "faq:x:1",
        "faq:y::",
        "faq:n:open-account:abc",
    ):
        [reply] = await bot.press(data)
        assert "失效" in reply.plain, data
    async with bot.app.db.read() as tx:
        assert await tx.faq.feedback_counts() == {}


async def test_punctuation_and_emoji_only(bot: Harness) -> None:
    assert "没有看懂" in await bot.text("???!!!😀")


async def test_staff_add_edit_delete_guided(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    assert "第 1 步" in await bot.text("/faq add", user="bob")
    assert "不允许" in await bot.text("稳赚不赔的方法?", user="bob"), "questions are screened too"
    assert "第 2 步" in await bot.text("楼下的奶茶好喝吗?", user="bob")
    assert "第 3 步" in await bot.text("年会几号\n年会时间", user="bob")
    assert "不允许" in await bot.text("年会上保证收益翻倍", user="bob")
    assert "第 4 步" in await bot.text("年会一般在每年一月举行,具体以通知为准。", user="bob")
    saved = await bot.text("公司活动", user="bob")
    assert "custom-1" in saved
    [answer] = await bot.say("年会几号")
    assert "一月" in answer.plain
    [edit] = await bot.say("/faq edit custom-1", user="bob")
    assert "faqs:field:answer" in edit.callbacks
    await bot.press("faqs:field:answer", user="bob")
    await bot.say("年会时间以公司通知为准。", user="bob")
    assert "以公司通知为准" in (await bot.say("年会几号"))[0].plain
    [confirm] = await bot.say("/faq del custom-1", user="bob")
    assert "faqs:del:custom-1" in confirm.callbacks
    await bot.press("faqs:del:custom-1", user="bob")
    # Another client: a third identical question within minutes reads as insistence (upset).
    assert "没有把握" in await bot.text("年会几号", user="carol")


async def test_staff_cancel_leaves_the_flow(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    await bot.say("/faq add", user="bob")
    assert "已取消" in await bot.text("取消", user="bob")
    assert "开户" in await bot.text("怎么开户", user="bob")


async def test_gaps_group_similar_questions(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    for user, text in [
        ("a", "你们楼下的奶茶好喝吗"),
        ("b", "你们楼下的奶茶好喝吗?"),
        ("c", "楼下的奶茶好喝吗"),
        ("d", "能不能送我一个台历"),
    ]:
        await bot.say(text, user=user)
    gaps = await bot.text("/faq gaps", user="bob")
    assert "3 次" in gaps and "1 次" in gaps
    assert gaps.index("3 次") < gaps.index("1 次")


async def test_staff_try_a_question_without_answering_or_recording_it(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    tried = await bot.text("/faq test 怎么开户", user="bob")
    assert "会直接回答:open-account" in tried
    assert "没有把握回答" in await bot.text("/faq test 楼下的奶茶好喝吗", user="bob")
    assert "近 7 天没有未能回答的问题" in await bot.text("/faq gaps", user="bob")


async def test_stats_and_synonyms(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    [answer] = await bot.say("怎么开户")
    await bot.press(answer.callbacks[-2])
    assert "open-account:1 / 0" in await bot.text("/faq stats", user="bob")
    assert "开户" not in (await bot.say("户头怎么办"))[0].plain
    assert "已添加" in await bot.text("/faq syn add 户头 开户", user="bob")
    assert "开户" in (await bot.say("户头怎么办"))[0].plain
    assert "户头" in await bot.text("/faq syn list", user="bob")


async def test_clients_cannot_use_staff_faq_commands(bot: Harness) -> None:
    assert "仅限工作人员" in await bot.text("/faq del open-account")
    assert "仅限工作人员" in (await bot.press("faqs:del:open-account"))[0].plain
    assert "开户" in await bot.text("怎么开户")


async def test_erasure_locks_recorded_questions(bot: Harness) -> None:
    await bot.say("你们楼下的奶茶好喝吗")
    await bot.say("/deleteme")
    await bot.press("del:yes")
    async with bot.app.db.read() as tx:
        assert await tx.faq.unanswered_since(tx.now().replace(year=2000)) == []


async def test_long_mixed_paste_is_archived_whole_and_answered(bot: Harness) -> None:
    text = "请问app怎么下载😀 " + "我想了解一下 " * 800
    replies = await bot.say(text)
    assert replies and all(len(r.text) <= 4096 for r in replies)
    [inbound] = [m for m in await bot.archive() if m.direction == "in"]
    assert inbound.text == text and inbound.status == "handled"


async def test_staff_sees_who_changed_an_entry(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    shown = await bot.text("/faq show open-account", user="bob")
    assert "最后修改:system" in shown


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


async def test_staff_teach_a_gap_and_the_same_question_is_answered_directly(
    bot: Harness,
) -> None:
    question = "客服小姐姐周六周日也在线吗"
    [reply] = await bot.say(question)
    assert "没有把握" in reply.plain
    gaps = await bot.text("/faq gaps", user="admin")
    assert question in gaps and "#1" in gaps and "/faq teach" in gaps
    assert "没有编号为 #9" in await bot.text("/faq teach 9 office-address-hours", user="admin")
    [ask] = await bot.say("/faq teach 1 office-address-hours", user="admin")
    assert question in ask.plain and ask.callbacks[0] == "faqs:teach:1:office-address-hours"
    [done] = await bot.press("faqs:teach:1:office-address-hours", user="admin")
    assert "已把" in done.plain
    async with bot.app.db.read() as tx:
        entry = await tx.faq.get("office-address-hours")
        assert entry is not None and question in entry.variants
        assert await tx.faq.unanswered_since(tx.now().replace(year=2000)) == []
        [audit] = await tx.audit.recent("faq.teach")
    assert audit["actor"] == "console:admin"
    [again] = await bot.say(question, user="bob")  # answered now, not "not sure"
    assert "没有把握" not in again.plain
    assert "没有编号" not in await bot.text("/faq gaps", user="admin")
