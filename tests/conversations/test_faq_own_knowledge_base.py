"""A firm's own knowledge base: `faq import --replace` makes a file the whole base (the rest
disabled, kept), FAQ_DEFAULTS=off starts a new database empty, and the staff chat checks an
entry exactly as a file import would (no silent cuts, one list of on/off words)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import faq as cli_faq
from handlers.faq.kb_file import check, read_file, to_yaml
from tests.conftest import SettingsFactory
from tests.harness import Harness

OWN = """
- id: kaihu
  question: 开户需要准备什么材料?
  variants: [开户要带什么]
  answer: 请携带本人身份证和银行卡,到{firm}营业部或在官方 App 办理。
- id: shouxufei
  question: 交易手续费怎么收?
  variants: [手续费多少]
  answer: 手续费按成交金额收取,具体费率请咨询您的客户经理。
"""


async def faq(settings: object, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli_faq.add_parser(parser.add_subparsers(dest="command"))
    return await cli_faq.run(settings, parser.parse_args(["faq", *argv]))  # type: ignore[arg-type]


async def test_replace_makes_the_file_the_whole_base(
    make_settings: SettingsFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    own = tmp_path / "own.yaml"
    own.write_text(OWN, "utf-8")
    assert await faq(settings, "import", str(own), "--replace") == 0
    assert "others disabled (kept for history)" in capsys.readouterr().out
    bot = Harness(settings)
    await bot.start()
    try:
        async with bot.app.db.read() as tx:
            entries = await tx.faq.entries()
        enabled = sorted(e.id for e in entries if e.enabled)
        assert enabled == ["kaihu", "shouxufei"]
        assert len(entries) > 10, "the shipped entries are kept, disabled"
        [answer] = await bot.say("开户要带什么")
        assert "身份证" in answer.plain and "国瑞投资" in answer.plain
        assert "没有把握" in (await bot.say("怎么出金"))[0].plain, "a disabled entry is not used"
    finally:
        await bot.stop()


async def test_a_bad_file_with_replace_changes_nothing(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    bad = tmp_path / "bad.yaml"
    bad.write_text(OWN + "- id: broken\n  question: 缺答案\n", "utf-8")
    assert await faq(settings, "import", str(bad), "--replace") == cli_faq.EXIT_BAD_FILE
    bot = Harness(settings)
    await bot.start()
    try:
        async with bot.app.db.read() as tx:
            assert (await tx.faq.get("open-account")).enabled  # type: ignore[union-attr]
            assert await tx.faq.get("kaihu") is None
    finally:
        await bot.stop()


async def test_faq_defaults_off_starts_empty(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings(FAQ_DEFAULTS="off"))
    await bot.start()
    try:
        async with bot.app.db.read() as tx:
            assert await tx.faq.entries() == []
        assert "没有把握" in (await bot.say("怎么开户"))[0].plain
        await bot.restart()
        async with bot.app.db.read() as tx:
            assert await tx.faq.entries() == [], "and stays so after a restart"
    finally:
        await bot.stop()


async def test_the_chat_refuses_what_a_file_would_and_cuts_nothing(bot: Harness) -> None:
    await bot.say("/grant console:bob staff", user="admin")
    await bot.say("/faq add", user="bob")
    assert "最多 500" in await bot.text("问" * 1200, user="bob"), "told, not cut to 500"
    await bot.text("年会几号?", user="bob")
    assert "最多 500" in await bot.text("年会\n" + "时" * 600, user="bob"), "a variant too"
    await bot.text("年会时间", user="bob")
    assert "最多 3000" in await bot.text("答" * 3500, user="bob")
    await bot.text("年会一般在每年一月举行。", user="bob")
    assert "custom-1" in await bot.text("公司活动", user="bob")
    await bot.say("/faq edit custom-1", user="bob")
    await bot.press("faqs:field:question", user="bob")
    assert "最多 500" in await bot.text("问" * 2500, user="bob")
    async with bot.app.db.read() as tx:
        entry = await tx.faq.get("custom-1")
    assert entry is not None and entry.question == "年会几号?"
    check({"id": entry.id, "question": entry.question, "answer": entry.answer,
           "variants": list(entry.variants), "category": entry.category})  # fmt: skip
    await bot.say("/faq edit custom-1", user="bob")
    await bot.press("faqs:field:enabled", user="bob")
    await bot.say("关闭", user="bob")
    async with bot.app.db.read() as tx:
        assert not (await tx.faq.get("custom-1")).enabled  # type: ignore[union-attr]


def test_files_take_the_chats_words_for_on_and_off(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    text = OWN.replace("  answer: 请携带", "  enabled: 开启\n  answer: 请携带")
    text = text.replace("  answer: 手续费", "  enabled: disable\n  answer: 手续费")
    path.write_text(text, "utf-8")
    kaihu, fee = read_file(path)
    assert kaihu.enabled and not fee.enabled
    assert read_file(path) == read_file(_roundtrip(path, tmp_path))


def _roundtrip(path: Path, tmp_path: Path) -> Path:
    again = tmp_path / "again.yaml"
    again.write_text(to_yaml(read_file(path)), "utf-8")
    return again
