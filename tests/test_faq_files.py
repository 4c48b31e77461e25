"""Knowledge-base files: errors name line and field, and an import is all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.faq.kb_file import KbFileError, parse_csv, parse_yaml, read_file, to_csv, to_yaml
from handlers.faq.service import DEFAULT_KB

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
- id: annual-meeting
  language: zh
  category: 公司活动
  question: 公司年会什么时候开?
  variants: [年会几号, 年会时间]
  answer: 年会一般在每年一月举行,具体以公司通知为准。
- id: annual-meeting-en
  language: en
  question: When is the annual meeting?
  answer: Usually in January; see the official notice.
"""


def bot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("TELEGRAM_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def problems(text: str, parse=parse_yaml) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(KbFileError) as caught:
        parse(text, "kb.yaml")
    return [str(p) for p in caught.value.problems]


def test_good_yaml() -> None:
    entries = parse_yaml(GOOD)
    assert [e.id for e in entries] == ["annual-meeting", "annual-meeting-en"]
    assert entries[1].category == "Other" and entries[0].variants == ("年会几号", "年会时间")


def test_duplicate_id_names_both_lines() -> None:
    text = GOOD + GOOD.split("- id: annual-meeting-en")[0]
    assert problems(text) == ["line 11: id: duplicate id 'annual-meeting' (first at line 1)"]


def test_missing_answer_and_bad_fields_all_reported() -> None:
    text = "- id: Bad Id\n  language: fr\n  question: q\n- id: ok\n  question: q\n  answer: ''\n"
    assert problems(text) == [
        "line 1: id: 'Bad Id' must be lower-case letters, digits, '.', '_' or '-'",
        "line 2: language: must be zh or en (got 'fr')",
        "line 1: answer: missing",
        "line 6: answer: missing",
    ]


def test_promises_of_returns_are_refused() -> None:
    text = "- id: x\n  question: q\n  answer: 跟着我们操作稳赚不赔\n"
    assert "promises returns" in problems(text)[0]


def test_broken_yaml_names_the_line() -> None:
    [problem] = problems("- id: x\n  question: [unclosed\n  answer: a\n")
    assert problem.startswith("line 3: yaml: broken YAML")


def test_not_a_list() -> None:
    assert problems("id: x\n") == ["line 1: yaml: expected a list of entries"]


def test_gbk_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(KbFileError) as caught:
        read_file(path)
    assert "GBK" in str(caught.value) and "UTF-8" in str(caught.value)


@pytest.mark.parametrize("dump,parse", [(to_csv, parse_csv), (to_yaml, parse_yaml)])
def test_round_trip(dump, parse) -> None:  # type: ignore[no-untyped-def]
    entries = read_file(DEFAULT_KB)
    assert parse(dump(entries)) == entries


def test_csv_missing_column() -> None:
    assert problems("id,question\nx,q\n", parse_csv) == [
        "line 1: answer: column missing from the header"
    ]


def test_cli_import_is_all_or_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "- id: broken\n  question: no answer here\n", encoding="utf-8")
    result = bot(tmp_path, "faq", "import", str(bad))
    assert result.returncode == 1
    assert "bad.yaml: line 11: answer: missing" in result.stderr
    before = json.loads(bot(tmp_path, "faq", "match", "年会几号", "--json").stdout)
    assert before["id"] is None, "nothing from the bad file was imported"

    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    imported = bot(tmp_path, "faq", "import", str(good))
    assert imported.returncode == 0 and "2 new" in imported.stdout
    after = json.loads(bot(tmp_path, "faq", "match", "年会几号", "--json").stdout)
    assert after["id"] == "annual-meeting" and "一月" in after["answer"]
    again = bot(tmp_path, "faq", "import", str(good))
    assert "0 new, 2 replaced" in again.stdout


def test_cli_export_then_import(tmp_path: Path) -> None:
    out = tmp_path / "kb.csv"
    assert bot(tmp_path, "faq", "export", "-o", str(out)).returncode == 0
    assert out.read_text("utf-8").startswith("id,language,category,question")
    result = bot(tmp_path, "faq", "import", str(out))
    assert result.returncode == 0 and "0 new" in result.stdout


def test_cli_match_json_shapes(tmp_path: Path) -> None:
    hit = json.loads(bot(tmp_path, "faq", "match", "怎么开户", "--json").stdout)
    assert hit["id"] == "open-account" and hit["score"] > 0.5 and "国瑞投资" in hit["answer"]
    miss = json.loads(bot(tmp_path, "faq", "match", "今天天气怎么样", "--json").stdout)
    assert miss["id"] is None and miss["answer"] is None


def test_cli_import_missing_file(tmp_path: Path) -> None:
    result = bot(tmp_path, "faq", "import", "nope.yaml")
    assert result.returncode == 1 and "nope.yaml" in result.stderr
