"""`python -m bot db backup|restore|purge` as an operator runs them (in this process, through
the program's `main`): a backup taken while another connection writes is whole, a restore
goes only into an empty database and checks the file first, PostgreSQL gets the pg_dump /
pg_restore line without the password, and the purge's dry run deletes nothing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli.program import main
from bot.config import load_settings
from broadcasts.retention import years_before
from storage import backup as copies
from storage.database import Database
from storage.migrate import head_revision, upgrade
from tests.fakes.clock import FakeTime

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    """`python -m bot ARGS` against `url`: (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith(("TELEGRAM_", "BOT_", "RETENTION_"))]:
        monkeypatch.delenv(key)

    def call(url: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", url)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def path_of(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


async def some_people(url: str, n: int, clock: FakeTime | None = None) -> None:
    db = Database(url, clock=clock) if clock else Database(url)
    try:
        async with db.write() as tx:
            for i in range(n):
                client, _ = await tx.clients.get_or_create(
                    f"telegram:{i + 1}", language="zh", display_name=f"客户{i}", username=None
                )
                await tx.messages.add_outbound_many(
                    [{"channel": "telegram", "chat": f"telegram:{i + 1}", "text": "您好",
                      "payload": {}, "client_id": client.id, "status": "sent"}]
                )  # fmt: skip
    finally:
        await db.close()


def audit_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])


MAX_WRITES = 20_000  # 40 MB at most


def test_a_backup_taken_while_another_connection_writes_is_whole(
    db_url: str, tmp_path: Path, run
) -> None:
    live = path_of(db_url)
    stop, written = threading.Event(), [0]

    def writer() -> None:  # another connection (as the bot would be), one row per commit
        conn = sqlite3.connect(live, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # Paced and capped: unpaced, a slow machine's backups copy an ever larger file while
        # the writer outruns them (once 24 GB in a tmpfs).
        while not stop.is_set() and written[0] < MAX_WRITES:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO audit_log (at, actor, action, detail) VALUES "
                "('2026-12-01 00:00:00', 'test', 'write', '{\"payload\": \"" + "x" * 2000 + "\"}')"
            )
            conn.execute("COMMIT")
            written[0] += 1
            time.sleep(0.001)  # relative sleeps: a timed Event.wait can hang under faketime
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:  # writing well under way
            time.sleep(0.005)
        seen = []
        for _ in range(3):
            before = written[0]
            code, out, err = run(db_url, "db", "backup", str(tmp_path / "b.db"), "--force")
            assert code == 0, err
            assert out.startswith(f"wrote {tmp_path / 'b.db'}: ") and "tables" in out
            copy = copies.inspect(tmp_path / "b.db")  # integrity_check ok, or it raises
            assert copy.revision == head_revision()
            assert before <= copy.tables["audit_log"] <= written[0] + 1
            seen.append(copy.tables["audit_log"])
    finally:
        stop.set()
        thread.join()
    assert written[0] > seen[-1] > seen[0]  # the writer went on throughout
    assert not list(tmp_path.glob("b.db-*")) and not list(tmp_path.glob(".b.db*"))


def test_an_existing_file_is_kept_unless_forced(db_url: str, tmp_path: Path, run: Run) -> None:
    target = tmp_path / "b.db"
    target.write_text("earlier")
    code, _, err = run(db_url, "db", "backup", str(target))
    assert code == 2 and err.strip() == f"db backup: {target} exists; --force replaces it"
    assert target.read_text() == "earlier"


def test_restore_into_an_empty_database_only(db_url: str, tmp_path: Path, run: Run) -> None:
    asyncio.run(some_people(db_url, 3))
    assert run(db_url, "db", "backup", str(tmp_path / "b.db"))[0] == 0
    fresh = f"sqlite:///{tmp_path / 'new' / 'bot.db'}"
    code, out, err = run(fresh, "db", "restore", str(tmp_path / "b.db"))
    assert code == 0, err
    assert "each table's count as in the backup" in out and f"revision {head_revision()}" in out
    backed, restored = copies.inspect(tmp_path / "b.db"), copies.inspect(path_of(fresh))
    assert restored.tables == backed.tables and backed.tables["clients"] == 3

    before = restored.tables
    code, _, err = run(fresh, "db", "restore", str(tmp_path / "b.db"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "holds data in clients (3)" in err and "messages (3)" in err
    assert copies.inspect(path_of(fresh)).tables == before  # nothing changed


def test_an_older_backup_is_upgraded_after_the_restore(tmp_path: Path, run: Run) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"

    async def at_0025() -> None:
        db = Database(old)
        try:
            await upgrade(db, "0025")
        finally:
            await db.close()

    asyncio.run(at_0025())
    assert run(old, "db", "backup", str(tmp_path / "b.db"))[0] == 0
    code, out, err = run(
        f"sqlite:///{tmp_path / 'new.db'}", "db", "restore", str(tmp_path / "b.db")
    )
    assert code == 0, err
    assert out.rstrip().endswith(f"revision 0025, upgraded to {head_revision()}")


def test_a_damaged_or_foreign_file_is_refused_before_anything(
    db_url: str, tmp_path: Path, run
) -> None:
    target = tmp_path / "new" / "bot.db"
    url = f"sqlite:///{target}"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"PGDMP" + bytes(5000))
    code, _, err = run(url, "db", "restore", str(junk))
    assert code == 1 and err.strip() == f"db restore: {junk} is not a SQLite database"

    assert run(db_url, "db", "backup", str(tmp_path / "b.db"))[0] == 0
    damaged = tmp_path / "damaged.db"
    data = bytearray((tmp_path / "b.db").read_bytes())
    data[4096 * 3 : 4096 * 3 + 2000] = os.urandom(2000)  # a page of the tables, overwritten
    damaged.write_bytes(bytes(data))
    code, _, err = run(url, "db", "restore", str(damaged))
    assert code == 1 and err.startswith("db restore: ")
    assert "is damaged" in err or "cannot be read" in err

    newer = tmp_path / "newer.db"
    (tmp_path / "b.db").rename(newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    code, _, err = run(url, "db", "restore", str(newer))
    assert code == 1 and "at migration 9999, which this code does not know" in err
    assert not target.exists()


@pytest.mark.parametrize(
    ("command", "hint"),
    [("backup", 'pg_dump --format=custom --file=FILE "$URL"'),
     ("restore", 'pg_restore --no-owner --exit-on-error --dbname="$URL" FILE')],
)  # fmt: skip
def test_postgresql_is_refused_with_its_own_tool(
    run: Run, tmp_path: Path, command: str, hint: str
) -> None:
    url = "postgresql+asyncpg://bot:s3cret@db-host:5432/bot"
    code, out, err = run(url, "db", command, str(tmp_path / "b.dump"))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert hint in err and 'without "+asyncpg"' in err and "s3cret" not in err


def test_purge_shows_what_would_go_then_deletes_it_once(db_url: str, run: Run) -> None:
    long_ago = years_before(datetime.now(UTC), 6)
    asyncio.run(some_people(db_url, 4, FakeTime(long_ago)))
    asyncio.run(some_people(db_url, 0))
    live = path_of(db_url)
    before = copies.inspect(live).tables["messages"]
    code, out, _ = run(db_url, "db", "purge", "--dry-run")
    assert code == 0 and out.startswith("would delete (dry run, nothing deleted): 0 erased")
    assert "4 messages" in out and "audit entries: kept forever" in out
    assert copies.inspect(live).tables["messages"] == before
    code, out, _ = run(db_url, "db", "purge")
    assert code == 0 and out.startswith("deleted: 0 erased clients") and "4 messages" in out
    assert copies.inspect(live).tables["messages"] == before - 4
    assert (
        "deleted: 0 erased clients (with their kept records), 0 messages"
        in run(db_url, "db", "purge")[1]
    )
    assert audit_rows(live) == 1  # the one purge that deleted something


def test_the_daily_purge_is_one_of_the_scheduled_jobs(db_url: str) -> None:
    long_ago = years_before(datetime.now(UTC), 6)
    asyncio.run(some_people(db_url, 2, FakeTime(long_ago)))
    app = App(load_settings(env_file=None, environ={"DATABASE_URL": db_url}))

    async def fire_twice() -> None:
        try:
            now = datetime.now(UTC) + timedelta(seconds=1)
            assert app.jobs["retention"].cron == {"hour": 3, "minute": 30}
            await app.fire("retention", "-", now)
            await app.fire("retention", "-", now)  # the same day: claimed already
        finally:
            await app.db.close()

    asyncio.run(fire_twice())
    with sqlite3.connect(path_of(db_url)) as conn:
        logged = conn.execute("SELECT actor, detail FROM audit_log WHERE action='retention'")
        assert [(a, '"messages": 2' in d) for a, d in logged] == [("scheduler", True)]
