"""A bot process SIGKILLed mid-work, then started again, on SQLite and on PostgreSQL:
nothing recorded is lost, each update is handled once, bulk messages are never doubled
(those that may have left are `ambiguous`), and only replies on their way can come twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.database import Database
from storage.migrate import upgrade
from storage.schema import subscription_events
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram
from tests.support import ROOT, eventually

BULK, USERS = 300, 60
FIRST_CHAT = 700_000


@pytest.fixture(params=["sqlite", "postgres"])
def crash_url(request: pytest.FixtureRequest, db_url: str) -> str:
    return db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


async def start(tg: FakeTelegram, url: str, workdir: Path) -> asyncio.subprocess.Process:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    environ.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=url,
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_BASE=tg.base_url,
        TELEGRAM_RATE_LIMIT="100",
        LOG_LEVEL="WARNING",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--no-console",
        cwd=workdir, env=environ, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_sigkill_mid_work_loses_nothing_and_doubles_no_broadcast(
    tg: FakeTelegram, crash_url: str, tmp_path: Path
) -> None:
    tg.latency = 0.02
    db = Database(crash_url)
    try:
        await upgrade(db)
        async with db.write() as tx:  # a broadcast waiting to go out
            await tx.messages.add_outbound_many(
                [
                    {"channel": "telegram", "chat": f"telegram:{FIRST_CHAT + i}",
                     "text": f"早盘{i}", "payload": {}, "bulk": True}
                    for i in range(BULK)
                ]
            )  # fmt: skip
        users = [FIRST_CHAT + BULK + i for i in range(USERS)]
        for user in users:  # and people writing in meanwhile
            tg.push_update(tg.user_message(user, "/subscribe news"))

        proc = await start(tg, crash_url, tmp_path)
        await eventually(lambda: len(tg.sent()) >= 80, timeout=30, what="work under way")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        before = Counter(p["chat_id"] for p in tg.sent())

        proc = await start(tg, crash_url, tmp_path)
        try:

            async def settled() -> bool:
                async with db.read() as tx:
                    statuses = await tx.messages.for_chat_statuses()
                    unhandled = await tx.messages.count(direction="in", status="received")
                return not unhandled and all(
                    s not in ("pending", "queued", "sending") for _, s in statuses
                ) and len(statuses) >= BULK + USERS  # fmt: skip

            await eventually(settled, timeout=60, what="everything to be delivered")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]

        async with db.read() as tx:
            statuses = dict(await tx.messages.for_chat_statuses())
            events = (
                await tx.conn.execute(
                    sa.select(subscription_events.c.client_id, sa.func.count()).group_by(
                        subscription_events.c.client_id
                    )
                )
            ).all()
        got = Counter(p["chat_id"] for p in tg.sent())
        for i in range(BULK):
            chat = FIRST_CHAT + i
            status = statuses[f"telegram:{chat}"]
            assert got[chat] <= 1, f"broadcast to {chat} doubled"
            assert got[chat] == 1 or status == "ambiguous", f"broadcast to {chat} lost"
            assert status in ("sent", "ambiguous")
        for user in users:
            assert got[user] >= 1, f"{user} was never answered"
            if got[user] > 1:
                assert before[user] >= 1, "only a reply on its way at the kill comes twice"
        assert len(events) == USERS and {n for _, n in events} == {1}, "each handled once"
        ambiguous = sum(1 for s in statuses.values() if s == "ambiguous")
        assert ambiguous <= 40, "only what was about to leave is in doubt"
    finally:
        await db.close()


async def test_three_kills_during_a_backlog_quarantine_nothing(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    """Events that only waited in the queue of a process that was killed are not charged
    for it: after three kills every event is handled, once, and none is kept aside."""
    users = [FIRST_CHAT + i for i in range(600)]
    for user in users:
        tg.push_update(tg.user_message(user, "/subscribe news"))
    for _ in range(3):
        proc = await start(tg, db_url, tmp_path)
        await eventually(lambda: tg.get_updates_offsets, timeout=30, what="the first poll")
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    proc = await start(tg, db_url, tmp_path)
    db = Database(db_url)
    try:

        async def settled() -> bool:
            async with db.read() as tx:
                handled = await tx.messages.count(direction="in", status="handled")
                failed = await tx.messages.count(direction="in", status="failed")
            assert not failed, "nothing is quarantined"
            return handled == len(users)

        await eventually(settled, timeout=90, what="every event handled")
        async with db.read() as tx:
            events = (
                await tx.conn.execute(sa.select(sa.func.count()).select_from(subscription_events))
            ).scalar_one()
        assert events == len(users), "each handled once"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
        await db.close()
