"""`python -m bot staff`: accounts for the staff console as an administrator makes them, in
real processes: no default password, the second factor's enrolment shown once, refusals
named, and a disabled account or a new password signs every session out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.program import main
from tests.support import ROOT

PASSWORD = "correct horse battery"


def staff(
    tmp_path: Path, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", "staff", *args],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60,
        input=None if password is None else password + "\n",
    )  # fmt: skip


def test_an_account_is_made_with_its_second_factor_and_managed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = staff(
        tmp_path, "add", "zhangwei", "--role", "advisor", "--address", "telegram:501",
        "--password-stdin", password=PASSWORD,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "otpauth://totp/servicebot:zhangwei?secret=" in made.stdout
    assert "acts as telegram:501" in made.stdout
    codes = [line.strip() for line in made.stdout.splitlines() if line.startswith("  ")][-8:]
    assert len(codes) == 8 and all(len(c) == 17 and c[8] == "-" for c in codes)

    # The rest in this process (the same program, without a Python start-up each time).
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith(("TELEGRAM_", "BOT_"))]:
        monkeypatch.delenv(key)

    def again(*args: str, password: str | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO("" if password is None else password + "\n"))
        code = main(["staff", *args])
        out, err = capsys.readouterr()
        return code, out, err

    assert "zhangwei\tadvisor\ttelegram:501\tactive" in again("list")[1]
    code, _, err = again(
        "add", "zhangwei", "--role", "staff", "--password-stdin", password=PASSWORD
    )
    assert code == 2 and "taken" in err
    code, _, err = again(
        "add", "wang", "--role", "staff", "--address", "telegram:501", "--password-stdin",
        password=PASSWORD,
    )  # fmt: skip
    assert code == 2 and "already has" in err
    code, _, err = again("add", "li", "--role", "staff", "--password-stdin", password="short")
    assert code == 2 and "at least 10" in err
    code, _, _ = again("add", "张伟", "--role", "staff", "--password-stdin", password=PASSWORD)
    assert code == 2
    assert again("disable", "zhangwei")[0] == 0
    assert "disabled" in again("list")[1]
    assert again("enable", "zhangwei")[0] == 0
    assert again("passwd", "zhangwei", "--password-stdin", password=PASSWORD + "!")[0] == 0
    code, _, err = again("passwd", "nobody", "--password-stdin", password=PASSWORD)
    assert code == 2 and "no account" in err
