"""Reports by e-mail against a real SMTP server on this machine: the message as a mail
program reads it (Chinese names and subject decoded back, the body, both files), each TLS
mode, a server that refuses, and the monthly report on the 1st: once, and kept until sent."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.mail import Attachment, Mailer, MailError, compose
from tests.conftest import SettingsFactory
from tests.fakes.smtp_server import PASSWORD, USER, SmtpServer
from tests.harness import Harness
from tests.support import eventually

STAFF = "console:staffroom"
BOSS, SERVICE = "boss@example.com", "service@example.com"
SENDER = ("国瑞投资 客服部", "reports@example.com")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


def settings_for(server: SmtpServer, **more: str) -> Settings:
    return load_settings(env_file=None, environ=server.env(**more))


async def no_sleep(seconds: float) -> None:
    """The pause between quick retries, skipped."""


def report(subject: str = "国瑞投资 2026-11 月报") -> object:
    files = [
        Attachment("月报 2026-11.csv", "\ufeff项目,数值\n投诉,1\n".encode(), "text/csv"),
        Attachment("monthly-2026-11.html", "<h1>月报</h1>".encode(), "text/html"),
    ]
    return compose(SENDER, [BOSS, SERVICE], subject, "正文:投诉 1 件", files)


async def test_the_message_reads_back_in_chinese(smtp: SmtpServer) -> None:
    assert await Mailer(settings_for(smtp).mail).send(report()) == []  # type: ignore[arg-type]
    [got] = smtp.received
    assert got.mail_from == "reports@example.com" and got.rcpt_tos == [BOSS, SERVICE]
    read = got.message
    assert read["From"].addresses[0].display_name == "国瑞投资 客服部"
    assert read["From"].addresses[0].addr_spec == "reports@example.com"
    assert [a.addr_spec for a in read["To"].addresses] == [BOSS, SERVICE]
    assert read["Subject"] == "国瑞投资 2026-11 月报"
    headers = got.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are 7-bit
    assert "=?utf-8?" in headers  # RFC 2047 encoded words
    assert read.get_body(("plain",)).get_content().strip() == "正文:投诉 1 件"
    attached = {p.get_filename(): p for p in read.iter_attachments()}
    assert set(attached) == {"月报 2026-11.csv", "monthly-2026-11.html"}
    assert "filename*=utf-8''%E6%9C%88%E6%8A%A5" in got.raw.decode("ascii", "replace")  # RFC 2231
    csv_part = attached["月报 2026-11.csv"]
    assert csv_part.get_content_type() == "text/csv"
    assert csv_part.get_payload(decode=True).decode("utf-8-sig") == "项目,数值\n投诉,1\n"
    assert attached["monthly-2026-11.html"].get_content_type() == "text/html"


@pytest.mark.parametrize("mode", ["tls", "starttls"])
async def test_tls_modes_log_in_over_an_encrypted_connection(
    tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpServer(tmp_path, mode) as server:
        settings = settings_for(server, SMTP_USER=USER, SMTP_PASSWORD=PASSWORD)
        mailer = Mailer(settings.mail, tls_context=server.client_context)
        await mailer.send(report())  # type: ignore[arg-type]
        [got] = server.received
        assert got.login == USER and got.message["Subject"] == "国瑞投资 2026-11 月报"
    assert PASSWORD not in caplog.text


async def test_starttls_is_required_when_asked_for(smtp: SmtpServer) -> None:
    """A server that offers no STARTTLS is refused, not spoken to in plain text."""
    settings = settings_for(smtp, SMTP_TLS="starttls")
    with pytest.raises(MailError) as info:
        await Mailer(settings.mail, sleep=no_sleep).send(report())  # type: ignore[arg-type]
    assert "STARTTLS" in info.value.detail.upper() and not info.value.transient
    assert smtp.received == []


async def test_a_refusal_is_clear_and_not_repeated(smtp: SmtpServer) -> None:
    smtp.handler.refuse = {BOSS: "550 5.1.1 mailbox unavailable", SERVICE: "550 5.1.1 no"}
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    with pytest.raises(MailError) as info:
        await Mailer(settings_for(smtp).mail, sleep=pause).send(report())  # type: ignore[arg-type]
    assert "550" in info.value.detail and BOSS in info.value.detail
    assert not info.value.transient and pauses == []  # a 550 does not change by itself


async def test_one_refused_recipient_does_not_stop_the_others(smtp: SmtpServer) -> None:
    smtp.handler.refuse = {SERVICE: "550 5.1.1 mailbox unavailable"}
    assert await Mailer(settings_for(smtp).mail).send(report()) == [SERVICE]  # type: ignore[arg-type]
    assert [r.rcpt_tos for r in smtp.received] == [[BOSS]]


async def test_a_busy_server_is_tried_again_at_once(smtp: SmtpServer) -> None:
    smtp.handler.data_answer = "451 4.3.0 try again later"
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        smtp.handler.data_answer = None  # the server is back

    await Mailer(settings_for(smtp).mail, sleep=pause).send(report())  # type: ignore[arg-type]
    assert pauses == [2.0] and len(smtp.received) == 1


async def test_no_server_is_a_transient_failure(tmp_path: Path) -> None:
    server = SmtpServer(tmp_path)  # never started: nothing listens on its port
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    with pytest.raises(MailError) as info:
        await Mailer(settings_for(server).mail, sleep=pause).send(report())  # type: ignore[arg-type]
    assert info.value.transient and pauses == [2.0, 4.0]


# --- the monthly report on the 1st ------------------------------------------------------------


@pytest.fixture
async def shop(make_settings: SettingsFactory, smtp: SmtpServer) -> AsyncIterator[Harness]:
    env = smtp.env(REPORT_EMAILS=f"{BOSS}, {SERVICE}")
    bot = Harness(make_settings(STAFF_CHAT=STAFF, **env))
    await bot.start()
    await bot.say("/subscribe morning", user="alice")
    yield bot
    await bot.stop()


def first_of_next_month(bot: Harness) -> tuple[dt.datetime, str]:
    now = bot.app.db.clock().astimezone(bot.app.rhythm.tz)
    start = dt.datetime(now.year, now.month, 1, 9, tzinfo=bot.app.rhythm.tz)
    return (start + dt.timedelta(days=32)).replace(day=1), f"{start:%Y-%m}"


async def mail_row(bot: Harness, month: str) -> object:
    async with bot.app.db.read() as tx:
        return await tx.mail.get(f"monthly:{month}")


async def test_the_monthly_report_is_emailed_once_on_the_first(
    shop: Harness, smtp: SmtpServer
) -> None:
    first, month = first_of_next_month(shop)
    await shop.app.fire("monthly", "-", first)
    await shop.app.fire("monthly", "-", first + dt.timedelta(minutes=1))
    [got] = await eventually(lambda: smtp.received, what="the report by e-mail")
    await shop.idle()
    assert got.rcpt_tos == [BOSS, SERVICE]
    read = got.message
    assert read["Subject"] == f"国瑞投资 {month} 客户服务月报"
    body = read.get_body(("plain",)).get_content()
    assert f"{month} 客户服务月报" in body and "<b>" not in body
    attached = {p.get_filename(): p for p in read.iter_attachments()}
    assert set(attached) == {f"monthly-{month}.csv", f"monthly-{month}.html"}
    table = attached[f"monthly-{month}.csv"].get_payload(decode=True).decode("utf-8-sig")
    assert {"section": "faq", "item": "asked", "value": "0"} in list(
        csv.DictReader(io.StringIO(table))
    )
    page = attached[f"monthly-{month}.html"].get_content()
    assert page.count("<svg") == 4
    chats = [s.chat for s in shop.sender.sent if "客户服务月报" in s.plain]
    assert chats == [STAFF]  # the chat message as before
    row = await eventually(lambda: mail_row(shop, month))
    assert row.status == "sent"  # type: ignore[attr-defined]
    await shop.restart()  # another process, the same month: nothing again
    await shop.app.fire("monthly", "-", first + dt.timedelta(minutes=2))
    await shop.idle()
    assert len(smtp.received) == 1


async def test_a_refused_report_is_told_once_and_sent_later(
    shop: Harness, smtp: SmtpServer
) -> None:
    smtp.handler.data_answer = "554 5.7.1 relay denied"
    first, month = first_of_next_month(shop)
    await shop.app.fire("monthly", "-", first)

    async def tried(times: int) -> bool:
        row = await mail_row(shop, month)
        return row is not None and row.tries >= times  # type: ignore[attr-defined]

    await eventually(lambda: tried(1), what="the first try")
    await shop.idle()
    told = [s for s in shop.sender.sent if s.chat == STAFF and "没有发出" in s.plain]
    assert len(told) == 1 and "554" in told[0].plain and "不会丢失" in told[0].plain
    row = await mail_row(shop, month)
    assert row.status == "pending" and "relay denied" in row.error  # type: ignore[attr-defined]

    shop.clock.advance(minutes=2)  # the retry is due; the server still refuses
    shop.app.mail.wake()  # type: ignore[union-attr]
    await eventually(lambda: tried(2), what="the second try")
    await shop.idle()
    assert len([s for s in shop.sender.sent if "没有发出" in s.plain]) == 1  # told once

    smtp.handler.data_answer = None  # the relay takes it now
    shop.clock.advance(minutes=5)
    shop.app.mail.wake()  # type: ignore[union-attr]
    [got] = await eventually(lambda: smtp.received, what="the report, late")
    assert got.message["Subject"] == f"国瑞投资 {month} 客户服务月报"
    await eventually(lambda: _sent(shop, month), what="the row marked sent")


async def _sent(bot: Harness, month: str) -> bool:
    row = await mail_row(bot, month)
    return row is not None and row.status == "sent"  # type: ignore[attr-defined]
