"""E-mail from the command line against a real local SMTP server: the monthly report at once
(`report monthly --email|--to`) and a document to a client (`clients email`), with one clear
line and a non-zero exit when e-mail is not set up or the server refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from storage.database import Database
from tests.fakes.smtp_server import SmtpServer

BOSS = "boss@example.com"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "STAFF_CHAT", "SMTP_HOST", "REPORT_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOT_ADMINS", "console:local")
    monkeypatch.setenv("FIRM_NAME", "国瑞投资")
    return tmp_path


@pytest.fixture
def smtp(env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    with SmtpServer(env) as server:
        for name, value in server.env(REPORT_EMAILS=BOSS).items():
            monkeypatch.setenv(name, value)
        yield server


def test_the_monthly_report_is_sent_at_once(
    smtp: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "monthly", "--month", "2026-11", "--email"]) == 0
    [got] = smtp.received
    assert got.rcpt_tos == [BOSS]
    assert got.message["Subject"] == "国瑞投资 2026-11 客户服务月报"
    names = sorted(p.get_filename() for p in got.message.iter_attachments())
    assert names == ["monthly-2026-11.csv", "monthly-2026-11.html"]
    assert f"sent '国瑞投资 2026-11 客户服务月报' to {BOSS}" in capsys.readouterr().err


def test_to_overrides_report_emails(smtp: SmtpServer) -> None:
    args = ["report", "monthly", "--month", "2026-11", "--to", "a@example.com"]
    assert main([*args, "--to", "b@example.com"]) == 0
    assert smtp.received[0].rcpt_tos == ["a@example.com", "b@example.com"]


def test_without_smtp_it_says_so(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "monthly", "--month", "2026-11", "--email"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["report monthly --email: e-mail is not configured (set SMTP_HOST)"]


def test_a_bad_to_address_names_itself(
    smtp: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "monthly", "--month", "2026-11", "--to", "boss@"]) == 2
    assert "'boss@' is not an e-mail address" in capsys.readouterr().err
    assert smtp.received == []


def test_a_refusing_server_fails_with_one_line(
    smtp: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp.handler.refuse = {BOSS: "550 5.1.1 mailbox unavailable"}
    assert main(["report", "monthly", "--month", "2026-11", "--email"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "not sent" in line]
    assert len(lines) == 1 and "550 5.1.1 mailbox unavailable" in lines[0]


async def _audit(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.read() as tx:
            return [r["action"] for r in await tx.audit.recent()]
    finally:
        await db.close()


def test_a_document_to_a_client(
    smtp: SmtpServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "--user", "alice", "-m", "你好"]) == 0
    assert main(["chat", "-m", "/client console:alice email 客户@example.com"]) == 0
    assert "不是有效的邮箱地址" in capsys.readouterr().out
    assert main(["chat", "-m", "/client console:alice email Alice@Example.COM"]) == 0
    assert "alice@example.com" in capsys.readouterr().out.lower()
    assert main(["chat", "-m", "/client console:alice"]) == 0
    assert "邮箱:Alice@example.com" in capsys.readouterr().out
    document = env / "2026年11月 对账单.pdf"
    document.write_bytes(b"%PDF-1.4 statement")
    args = ["clients", "email", "console:alice", "--subject", "您的 11 月对账单"]
    assert main([*args, "--file", str(document)]) == 0
    [got] = smtp.received
    assert got.rcpt_tos == ["Alice@example.com"]
    assert got.message["Subject"] == "您的 11 月对账单"
    [part] = got.message.iter_attachments()
    assert part.get_filename() == "2026年11月 对账单.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == b"%PDF-1.4 statement"
    assert "国瑞投资" in got.message.get_body(("plain",)).get_content()
    actions = asyncio.run(_audit(f"sqlite:///{env / 'bot.db'}"))
    assert "client.email_sent" in actions and "client.email" in actions


def test_a_client_without_an_address_is_refused(
    smtp: SmtpServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "--user", "bob", "-m", "你好"]) == 0
    (env / "a.txt").write_text("x")
    args = ["clients", "email", "console:bob", "--subject", "s", "--file", str(env / "a.txt")]
    assert main(args) == 2
    assert "has no e-mail on file" in capsys.readouterr().err
    assert smtp.received == []
