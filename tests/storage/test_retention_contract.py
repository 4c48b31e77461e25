"""Retention on every backend: only what is past its period goes, open tickets and clients
who were not erased stay, a dry run changes nothing, and a second run deletes nothing more.
Time is the fake clock's: records are written years back by moving it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.core.i18n import Catalog, Translator
from broadcasts import monthly, retention
from broadcasts.retention import RetentionPolicy, years_before
from storage.database import Database
from storage.schema import audit_log, clients, faq_learning, messages, tickets
from tests.fakes.clock import FakeTime

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

THEN = datetime(2019, 3, 1, 2, 0, tzinfo=UTC)  # more than five years before NOW
NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
POLICY = RetentionPolicy(messages_years=5, erased_years=5, audit_years=5, batch=10)


async def a_client(db: Database, address: str) -> int:
    async with db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            address, language="zh", display_name="张三", username=None
        )
    return client.id


async def some_messages(db: Database, address: str, client_id: int | None, n: int) -> list[int]:
    """`n` inbound (handled) and `n` outbound (sent) rows in the client's chat."""
    async with db.write() as tx:
        ids = []
        for i in range(n):
            got = await tx.messages.record_inbound(
                channel="telegram", chat=address, sender=address, kind="text", text=f"问{i}",
                payload={}, dedupe_key=f"{address}:{tx.now().isoformat()}:{i}",
            )  # fmt: skip
            assert got is not None
            await tx.messages.set_status(got, "handled", client_id=client_id)
            ids.append(got)
        ids += await tx.messages.add_outbound_many(
            [
                {"channel": "telegram", "chat": address, "text": f"答{i}", "payload": {},
                 "client_id": client_id, "status": "sent"}
                for i in range(n)
            ]
        )  # fmt: skip
    return ids


async def a_ticket(db: Database, client_id: int, address: str, relayed: int | None) -> int:
    async with db.write() as tx:
        number = await tx.tickets.next_number("TS", tx.now().strftime("%Y%m%d"))
        ticket = await tx.tickets.create(
            actor=address, number=number, kind="complaint", client_id=client_id, chat=address,
            text="出金未到账", vip=False, due_at=tx.now() + timedelta(hours=4),
        )  # fmt: skip
        await tx.tickets.event(ticket.id, address, "relayed", "补充", message_id=relayed)
        await tx.audit.log(address, "ticket_opened", ticket=ticket.id)
    return ticket.id


async def count(db: Database, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with db.read() as tx:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await tx.conn.execute(query)).scalar_one())


async def world(db: Database, clock: FakeTime) -> dict[str, object]:
    """Years ago: a client erased then, a client still with us (an open ticket relaying one
    of their old messages), a pending outbound row; recently: new messages and a client
    erased last year."""
    clock.set(THEN)
    gone = await a_client(db, "telegram:1")
    gone_msgs = await some_messages(db, "telegram:1", gone, 12)
    await a_ticket(db, gone, "telegram:1", gone_msgs[0])
    async with db.write() as tx:  # a wording of theirs staff adopted: kept past the erasure
        await tx.faq_learning.add("variant", "问0", entry_id="withdraw", message_id=gone_msgs[0],
                                  client_id=gone)  # fmt: skip
        await tx.faq_learning.decide(1, confirmed=True, by="telegram:900")
    kept = await a_client(db, "telegram:2")
    kept_msgs = await some_messages(db, "telegram:2", kept, 15)
    open_ticket = await a_ticket(db, kept, "telegram:2", kept_msgs[0])
    async with db.write() as tx:
        pending = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:2", text="未发出", payload={}
        )
    clock.set(THEN + timedelta(days=30))
    async with db.write() as tx:
        await tx.clients.erase(gone)
    clock.set(NOW - timedelta(days=300))
    recent = await a_client(db, "telegram:3")
    recent_msgs = await some_messages(db, "telegram:3", recent, 3)
    async with db.write() as tx:
        await tx.clients.erase(recent)
    clock.set(NOW)
    new_msgs = await some_messages(db, "telegram:2", kept, 2)
    return {
        "gone": gone, "kept": kept, "recent": recent, "open_ticket": open_ticket,
        "pending": pending, "relayed": kept_msgs[0], "old_kept": kept_msgs,
        "fresh": recent_msgs + new_msgs,
    }  # fmt: skip


async def test_only_what_is_past_its_period_goes(db: Database, clock: FakeTime) -> None:
    w = await world(db, clock)
    assert await retention.preview(db, POLICY, NOW) == {"erased": 1, "messages": 29, "audit": 2}
    counts = await retention.purge(db, POLICY, NOW, actor="cli")
    # the erased client: the file and every record; 29 of the other's 30 old rows (one is
    # relayed by an open ticket); audit: the two old entries of the tickets.
    assert counts == {"erased": 1, "messages": 29, "audit": 2}
    assert await count(db, clients, clients.c.id == w["gone"]) == 0
    assert await count(db, messages, messages.c.client_id == w["gone"]) == 0
    assert await count(db, tickets, tickets.c.client_id == w["gone"]) == 0
    assert await count(db, faq_learning, faq_learning.c.client_id == w["gone"]) == 0
    assert await count(db, clients, clients.c.id.in_([w["kept"], w["recent"]])) == 2
    assert await count(db, tickets, tickets.c.id == w["open_ticket"]) == 1
    left = messages.c.id.in_([w["relayed"], w["pending"], *w["fresh"]])  # type: ignore[list-item]
    assert await count(db, messages, left) == 2 + len(w["fresh"])  # type: ignore[arg-type]
    old = messages.c.id.in_(w["old_kept"])  # type: ignore[arg-type]
    assert await count(db, messages, old) == 1
    async with db.read() as tx:
        logged = await tx.audit.recent("retention")
    assert [e["detail"]["purged"] for e in logged] == [counts]
    assert logged[0]["actor"] == "cli"


async def test_a_second_run_and_a_dry_run_delete_nothing(db: Database, clock: FakeTime) -> None:
    await world(db, clock)
    before = await count(db, messages)
    await retention.preview(db, POLICY, NOW)
    assert await count(db, messages) == before
    first = await retention.purge(db, POLICY, NOW, actor="cli")
    assert first["messages"] and first["erased"]
    assert await retention.purge(db, POLICY, NOW, actor="cli") == dict.fromkeys(first, 0)
    async with db.read() as tx:
        assert len(await tx.audit.recent("retention")) == 1  # nothing purged, nothing logged


async def test_zero_years_keeps_that_kind(db: Database, clock: FakeTime) -> None:
    await world(db, clock)
    keep = RetentionPolicy(messages_years=0, erased_years=0, audit_years=0)
    before = (await count(db, messages), await count(db, audit_log))
    assert await retention.purge(db, keep, NOW, actor="cli") == {
        "erased": 0, "messages": 0, "audit": 0,
    }  # fmt: skip
    assert (await count(db, messages), await count(db, audit_log)) == before


async def test_the_daily_run_is_claimed_once_and_counted_in_the_month(
    db: Database, clock: FakeTime
) -> None:
    await world(db, clock)
    fire = NOW.replace(hour=3, minute=30)
    first = await retention.daily(db, POLICY, NOW, fire)
    assert first is not None and first["erased"] == 1
    assert await retention.daily(db, POLICY, NOW, fire) is None  # another process, a restart
    async with db.read() as tx:
        assert await tx.rhythm.fired("retention", fire) == "done"
        month = await tx.retention.purged(NOW.replace(day=1), NOW + timedelta(days=20))
    assert month == first
    async with db.read() as tx:
        figures = await tx.monthly.figures(NOW.replace(day=1), NOW + timedelta(days=20))
    report = monthly.text(Translator(Catalog(), "zh", "国瑞投资"), "2026-01", figures)
    assert report.splitlines()[-1] == (
        "保存期满清理:聊天记录 29 条,已注销客户 1 位(连同其留存记录),审计记录 2 条"
    )
    assert ("retention", "erased", "1") in monthly.rows(figures)


def test_years_before_keeps_the_day_or_takes_the_28th() -> None:
    assert years_before(NOW, 5) == datetime(2021, 1, 15, 9, 30, tzinfo=UTC)
    assert years_before(datetime(2028, 2, 29, tzinfo=UTC), 5) == datetime(2023, 2, 28, tzinfo=UTC)
