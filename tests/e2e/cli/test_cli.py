"""The command line as a newcomer uses it: real processes, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrate import head_revision
from tests.support import ROOT

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


def bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    environ.update({"PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("args", [(), ("run",), ("chat",), ("db",), ("db", "upgrade")])
def test_help_documents_each_command(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = bot(tmp_path, *args, "--help")
    assert result.returncode == 0 and "usage: python -m bot" in result.stdout


def test_db_upgrade_creates_the_default_database(tmp_path: Path) -> None:
    result = bot(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "bot.db").exists()
    assert f"revision {head_revision()}" in result.stdout


def test_scripted_chat_keeps_state_between_calls(tmp_path: Path) -> None:
    first = bot(tmp_path, "chat", "--user", "wang", "--message", "/start")
    assert first.returncode == 0, first.stderr
    assert "您好,国瑞投资" in first.stdout and "1. 📬 我的订阅" in first.stdout
    view = bot(tmp_path, "chat", "--user", "wang", "--message", "1")
    assert "资讯订阅" in view.stdout and "5. ➕ 早盘操作建议" in view.stdout
    toggled = bot(tmp_path, "chat", "--user", "wang", "--message", "5")
    assert "✅ 早盘操作建议" in toggled.stdout
    mine = bot(tmp_path, "chat", "--user", "wang", "-m", "/mysubs")
    assert "早盘操作建议" in mine.stdout
    stop = bot(tmp_path, "chat", "--user", "wang", "-m", "TD")
    assert "已为您退订全部 1 项资讯:早盘操作建议" in stop.stdout


def test_console_local_is_admin_unless_viewing_as_client(tmp_path: Path) -> None:
    granted = bot(tmp_path, "chat", "-m", "/grant telegram:42 advisor")
    assert "已授予 telegram:42 角色 投资顾问(advisor)" in granted.stdout
    refused = bot(tmp_path, "chat", "--as", "client", "-m", "/roles")
    assert "仅限工作人员" in refused.stdout


def test_interactive_console_reads_until_eof(tmp_path: Path) -> None:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "li"],
        cwd=tmp_path,
        env=environ,
        input="订阅早盘\n/mysubs\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "您好" in result.stdout and "订阅成功" in result.stdout and "您已订阅 1 项" in result.stdout
    )


def test_run_without_token_serves_the_console(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environ["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=environ,
        input="/start\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "您好,国瑞投资" in result.stdout


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TELEGRAM_MODE": "pull"}, "TELEGRAM_MODE"),
        (
            {
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_BOT_TOKEN": "1:abc",
                "TELEGRAM_WEBHOOK_URL": "https://example.com/hook",
            },
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        ({"BOT_ADMINS": "telegram:abc"}, "BOT_ADMINS"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"TELEGRAM_BOT_TOKEN": "not a token"}, "TELEGRAM_BOT_TOKEN"),
    ],
)
def test_bad_settings_stop_start_with_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    result = bot(tmp_path, "run", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0]
    assert "Traceback" not in result.stderr and "not a token" not in result.stderr


def test_bad_setting_in_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_MODE=webhook\nTELEGRAM_BOT_TOKEN=1:abc\n")
    result = bot(tmp_path, "chat", "-m", "/start")
    assert result.returncode == 2 and "TELEGRAM_WEBHOOK" in result.stderr


def _unusable_database(tmp_path: Path, case: str) -> str:
    if case == "a directory":
        (tmp_path / "dir.db").mkdir()
        return f"sqlite:///{tmp_path / 'dir.db'}"
    if case == "not a database":
        (tmp_path / "notes.db").write_text("my notes, not a database\n" * 100)
        return f"sqlite:///{tmp_path / 'notes.db'}"
    if case == "under a file":
        (tmp_path / "afile").write_text("x")
        return f"sqlite:///{tmp_path / 'afile' / 'bot.db'}"
    if case == "not writable":
        return "sqlite:////proc/bot.db"  # not even root may create files there
    return "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"  # nothing listens on port 1


@pytest.mark.parametrize(
    "case", ["a directory", "not a database", "under a file", "not writable", "unreachable"]
)
@pytest.mark.parametrize("command", [("run",), ("chat", "-m", "/start"), ("db", "upgrade")])
def test_an_unusable_database_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    result = bot(tmp_path, *command, DATABASE_URL=_unusable_database(tmp_path, case))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: DATABASE_URL: ")
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr
    assert "nobody" not in lines[0], "a database URL may hold a password: never echoed"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TELEGRAM_RATE_LIMIT", "1e-9"),
        ("TELEGRAM_RATE_LIMIT", "100000"),
        ("TELEGRAM_CHAT_INTERVAL", "-1"),
        ("TELEGRAM_GROUP_PER_MINUTE", "0"),
        ("TELEGRAM_MAX_IN_FLIGHT", "0"),
    ],
)
def test_absurd_limits_are_refused(tmp_path: Path, variable: str, value: str) -> None:
    result = bot(tmp_path, "run", "--no-console", TELEGRAM_BOT_TOKEN="1:abc", **{variable: value})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"configuration error: {variable}: ")


def test_twenty_console_chats_at_once_each_print_only_their_own(tmp_path: Path) -> None:
    """Each `bot chat --message` handles and prints its own user's conversation: never
    another process's replies, and never nothing."""
    assert bot(tmp_path, "db", "upgrade").returncode == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    environ["PYTHONPATH"] = str(ROOT)
    runs = {
        f"u{n}": subprocess.Popen(
            [sys.executable, "-m", "bot", "chat", "--user", f"u{n}", "-m", f"订阅{n % 8 + 1}"],
            cwd=tmp_path,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for n in range(20)
    }
    outputs = {user: proc.communicate(timeout=120) for user, proc in runs.items()}
    for user, (out, err) in outputs.items():
        assert runs[user].returncode == 0, err
        assert out.startswith("bot> "), f"{user} printed {out!r}"
        assert "→" not in out, f"{user} printed another user's reply: {out!r}"
        assert out.count("bot> ") == 1, f"{user}: {out!r}"
