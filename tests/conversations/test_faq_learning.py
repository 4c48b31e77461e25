"""Learning from use: a chosen suggestion that solved the question proposes its wording (staff
adopt it in one tap or by command), a 👎 and a question marked "not ours" teach the judge,
/faq stats shows direct answers by week, and the judge is trained once per base and kept."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from handlers.faq import semantic
from handlers.faq.index_cache import default_entries, default_synonyms
from handlers.faq.judge import VETO_SLACK, WRONG_AT_MOST, Judge
from handlers.faq.judging import JUDGE_KEY, LEARNED_NOTHING, fingerprint, shipped
from handlers.faq.normalize import Synonyms
from tests.conftest import SettingsFactory
from tests.harness import Harness

VAGUE = ("费用", "账户", "密码问题", "顾问", "出金入金")


async def _vague(bot: Harness) -> str:
    async with bot.app.db.read() as tx:
        index = await bot.app.faq.index(tx)
    return next(q for q in VAGUE if index.match(q).outcome == "suggest")


async def test_a_chosen_suggestion_that_solved_it_becomes_a_phrasing_staff_adopt(
    bot: Harness,
) -> None:
    vague = await _vague(bot)
    [choices] = await bot.say(vague)
    pick = next(c for c in choices.callbacks if c.startswith("faq:a:"))
    entry_id = pick.split(":")[2]
    assert pick == f"faq:a:{entry_id}:1", "the choice carries the question it answers"
    [answer] = await bot.press(pick)
    assert answer.callbacks[-2] == f"faq:y:{entry_id}:1:c"
    [thanks] = await bot.press(f"faq:y:{entry_id}:1:c")
    assert "感谢" in thanks.plain
    await bot.press(f"faq:y:{entry_id}:1:c")  # a second tap proposes nothing more
    listed = await bot.say("/faq learn", user="admin")
    assert vague in listed[0].plain and f"→ {entry_id}" in listed[0].plain
    assert listed[0].callbacks[:2] == ["faqs:learn:1:y", "faqs:learn:1:n"]
    [done] = await bot.press("faqs:learn:1:y", user="admin")
    assert "已把" in done.plain and entry_id in done.plain
    async with bot.app.db.read() as tx:
        entry = await tx.faq.get(entry_id)
        [audit] = await tx.audit.recent("faq.learn")
    assert entry is not None and vague in entry.variants and audit["actor"] == "console:admin"
    assert "没有编号为 #1" in await bot.text("/faq learn 1 yes", user="admin"), "settled once"
    assert "没有待确认" in await bot.text("/faq learn", user="admin")
    [again] = await bot.say(vague, user="bob")
    rating = again.callbacks[-2]
    assert rating.startswith(f"faq:y:{entry_id}:") and not rating.endswith(":c"), "answered now"


async def test_staff_may_drop_a_proposal_by_command(bot: Harness) -> None:
    vague = await _vague(bot)
    [choices] = await bot.say(vague)
    pick = next(c for c in choices.callbacks if c.startswith("faq:a:"))
    await bot.press(pick)
    await bot.press(f"faq:y:{pick.split(':')[2]}:1:c")
    assert "不采用" in await bot.text("/faq learn 1 no", user="admin")
    async with bot.app.db.read() as tx:
        entry = await tx.faq.get(pick.split(":")[2])
    assert entry is not None and vague not in entry.variants


async def test_a_thumbs_down_and_a_question_not_ours_are_lessons(bot: Harness) -> None:
    await bot.say("怎么开户")
    await bot.press("faq:n:open-account:1")
    await bot.say("你们楼下的奶茶好喝吗", user="bob")
    gaps = await bot.text("/faq gaps", user="admin")
    [gap] = re.findall(r"#(\d+)", next(line for line in gaps.splitlines() if "奶茶" in line))
    assert "/faq notours" in await bot.text("/faq notours", user="admin")
    assert "不属于知识库" in await bot.text(f"/faq notours {gap}", user="admin")
    assert "奶茶" not in await bot.text("/faq gaps", user="admin")
    async with bot.app.db.read() as tx:
        disliked, outside = await tx.faq_learning.for_training()
        version = await tx.faq_learning.version()
    assert disliked == [("怎么开户", "open-account")]
    assert outside == ["你们楼下的奶茶好喝吗"] and version == "2:2"


async def test_erasure_forgets_a_clients_lessons(bot: Harness) -> None:
    await bot.say("怎么开户")
    await bot.press("faq:n:open-account:1")
    async with bot.app.db.read() as tx:
        before = await tx.faq_learning.version(), await tx.config_version()
    async with bot.app.db.write() as tx:
        client = await tx.clients.by_address("console:alice")
        assert client is not None
        await tx.clients.erase(client.id)
    async with bot.app.db.read() as tx:
        assert (await tx.faq_learning.for_training())[0] == []
        after = await tx.faq_learning.version(), await tx.config_version()
    assert after[0] != before[0] and after[1] != before[1], "a judge trained on them retrains"


async def test_stats_show_direct_answers_by_week(bot: Harness) -> None:
    await bot.say("怎么开户")
    await bot.say("你们楼下的奶茶好喝吗")
    stats = await bot.text("/faq stats", user="admin")
    assert "直接回答率" in stats and "1 / 2(50%)" in stats
    assert "尚未训练" in stats


async def test_the_shipped_base_comes_with_its_judges() -> None:
    """Regenerate with `python -m handlers.faq.judging` after editing the base or the judge."""
    entries, table = list(default_entries()), Synonyms(default_synonyms()).table
    modes = [False] + ([True] if semantic.installed() is None else [])
    for semantic_on in modes:
        wanted = fingerprint(entries, table, semantic_on, LEARNED_NOTHING)
        assert wanted in shipped(), f"default_judge.json is stale (semantic {semantic_on})"
        assert Judge.loads(shipped()[wanted]) is not None


async def test_a_firm_on_the_shipped_base_trains_nothing(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings(FAQ_JUDGE="on"))
    await bot.start()
    try:
        await bot.say("怎么开户")
        assert not bot.app.faq.training
        async with bot.app.db.read() as tx:
            index = await bot.app.faq.index(tx)
            assert await tx.meta.get(JUDGE_KEY) is None
        assert index.judge is not None and index.outside is not None, "by meaning, too"
        assert index.outside.shape[0] > 50, "the shipped out-of-scope questions"
        assert "随默认知识库提供" in await bot.text("/faq stats", user="admin")
    finally:
        await bot.stop()


async def test_an_edited_base_trains_its_judge_once_and_keeps_it(
    make_settings: SettingsFactory,
) -> None:
    bot = Harness(make_settings(FAQ_JUDGE="on"))
    await bot.start()
    try:
        async with bot.app.db.write() as tx:
            entry = await tx.faq.get("withdraw")
            assert entry is not None
            await tx.faq.save(replace(entry, variants=(*entry.variants, "钱咋取")), by="test")
        await bot.say("怎么开户")
        assert bot.app.faq.training
        await bot.app.faq.trained()
        async with bot.app.db.read() as tx:
            first = json.loads(await tx.meta.get(JUDGE_KEY) or "{}")
        assert first["judge"] and first["figures"]["examples"] > 100
        assert first["figures"]["wrong"] <= VETO_SLACK * WRONG_AT_MOST
        [reply] = await bot.say("怎么开户", user="bob")
        assert reply.callbacks[-2].startswith("faq:y:open-account:")
        async with bot.app.db.read() as tx:
            index = await bot.app.faq.index(tx)
        assert index.judge is not None and index.match("怎么开户").belief is not None
        assert "回答判断模型" in (stats := await bot.text("/faq stats", user="admin"))
        assert "尚未训练" not in stats and "随默认知识库" not in stats
    finally:
        await bot.stop()
    again = Harness(make_settings(FAQ_JUDGE="on"))
    await again.start()
    try:
        await again.say("怎么开户")
        assert not again.app.faq.training, "the stored judge serves a restart"
        async with again.app.db.read() as tx:
            assert json.loads(await tx.meta.get(JUDGE_KEY) or "{}") == first
            assert (await again.app.faq.index(tx)).judge is not None
    finally:
        await again.stop()
