"""`python -m bot staff`: accounts for the staff console as an administrator makes them, in
real processes: no default password, the second factor's enrolment shown once, refusals
named, and a disabled account or a new password signs every session out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_an_account_is_made_with_its_second_factor_and_managed(tmp_path: Path) -> None:
    made = staff(
        tmp_path, "add", "zhangwei", "--role", "advisor", "--address", "telegram:501",
        "--password-stdin", password=PASSWORD,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "otpauth://totp/servicebot:zhangwei?secret=" in made.stdout
    assert "acts as telegram:501" in made.stdout
    codes = [line.strip() for line in made.stdout.splitlines() if line.startswith("  ")][-8:]
    assert len(codes) == 8 and all(len(c) == 17 and c[8] == "-" for c in codes)
    listed = staff(tmp_path, "list")
    assert "zhangwei\tadvisor\ttelegram:501\tactive" in listed.stdout

    again = staff(
        tmp_path, "add", "zhangwei", "--role", "staff", "--password-stdin", password=PASSWORD
    )
    assert again.returncode == 2 and "taken" in again.stderr
    same_address = staff(
        tmp_path, "add", "wang", "--role", "staff", "--address", "telegram:501",
        "--password-stdin", password=PASSWORD,
    )  # fmt: skip
    assert same_address.returncode == 2 and "already has" in same_address.stderr
    weak = staff(tmp_path, "add", "li", "--role", "staff", "--password-stdin", password="short")
    assert weak.returncode == 2 and "at least 10" in weak.stderr
    bad_name = staff(
        tmp_path, "add", "张伟", "--role", "staff", "--password-stdin", password=PASSWORD
    )
    assert bad_name.returncode == 2

    assert staff(tmp_path, "disable", "zhangwei").returncode == 0
    assert "disabled" in staff(tmp_path, "list").stdout
    assert staff(tmp_path, "enable", "zhangwei").returncode == 0
    changed = staff(tmp_path, "passwd", "zhangwei", "--password-stdin", password=PASSWORD + "!")
    assert changed.returncode == 0
    unknown = staff(tmp_path, "passwd", "nobody", "--password-stdin", password=PASSWORD)
    assert unknown.returncode == 2 and "no account" in unknown.stderr
