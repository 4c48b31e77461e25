"""`bot faq import|export|match` as an operator runs them, in a subprocess: an import is
all or nothing and names the line, exports read back, matches print JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT
from tests.unit.test_knowledge_base_files import GOOD


def bot(tmp_path: Path, *args: str, judge: bool = False) -> subprocess.CompletedProcess[str]:
    """The answer judge (seconds of training per base) only where a test asks for it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAQ_JUDGE": "on" if judge else "off"}
    env = {k: v for k, v in env.items() if not k.startswith("TELEGRAM_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
    first = bot(tmp_path, "faq", "match", "怎么开户", "--json", judge=True)
    assert "training" not in first.stderr, "the shipped base comes with its judge"
    hit = json.loads(first.stdout)
    assert hit["id"] == "open-account" and hit["score"] > 0.5 and "国瑞投资" in hit["answer"]
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    imported = bot(tmp_path, "faq", "import", str(good), judge=True)
    assert "training the FAQ's answer judge" in imported.stderr, "a changed base trains it"
    again = bot(tmp_path, "faq", "match", "今天天气怎么样", "--json", judge=True)
    assert "training" not in again.stderr, "the stored judge serves the next run"
    miss = json.loads(again.stdout)
    assert miss["id"] is None and miss["answer"] is None


def test_cli_import_missing_file(tmp_path: Path) -> None:
    result = bot(tmp_path, "faq", "import", "nope.yaml")
    assert result.returncode == 1 and "nope.yaml" in result.stderr
