"""The storage contract: behaviour every backend (SQLite, PostgreSQL) must share.

Every test here runs once per backend through the parametrised `db` fixture.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.migrate import current, upgrade
from storage.records import Client, FaqEntry, Topic
from storage.schema import metadata
from storage.tx import Tx
from tests.fakes.clock import FakeTime

SEEDED = ["news", "market", "opportunity", "risk", "morning", "evening", "reports", "training"]
ADVISORY = {"market", "opportunity", "risk", "morning", "evening", "reports"}


async def new_client(db: Database, address: str = "telegram:100", name: str = "Alice") -> Client:
    async with db.write() as tx:
        client, created = await tx.clients.get_or_create(
            address, language="zh", display_name=name, username=None
        )
    assert created
    return client


async def inbound(
    tx: Tx, dedupe_key: str | None, *, chat: str = "telegram:100", text: str = "hi"
) -> int | None:
    return await tx.messages.record_inbound(
        channel=chat.split(":", 1)[0],
        chat=chat,
        sender=chat,
        kind="text",
        text=text,
        payload={"text": text},
        dedupe_key=dedupe_key,
    )


# --- migrations -----------------------------------------------------------------------------


async def test_migrations_apply_idempotently_and_match_the_schema(empty_db: Database) -> None:
    assert (await current(empty_db))[0] is None

    await upgrade(empty_db)
    await upgrade(empty_db)  # a second starter (or a restart) is a no-op

    applied, head = await current(empty_db)
    assert head and applied == head

    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(ctx, metadata)

    assert await empty_db.run_sync(diff) == []
    async with empty_db.read() as tx:
        assert [t.key for t in await tx.topics.list(include_disabled=True)] == SEEDED


async def test_seeded_topics_in_sort_order(db: Database) -> None:
    async with db.read() as tx:
        topics = await tx.topics.list()
    assert [t.key for t in topics] == SEEDED
    assert [t.sort_order for t in topics] == sorted(t.sort_order for t in topics)
    assert {t.key for t in topics if t.advisory} == ADVISORY
    assert all(t.enabled for t in topics)
    news = topics[0]
    assert (news.name("zh"), news.name("en")) == ("重要消息", "Important news")


# --- clients --------------------------------------------------------------------------------


async def test_get_or_create_creates_once_and_updates_display_name(
    db: Database, clock: FakeTime
) -> None:
    async with db.write() as tx:
        first, created = await tx.clients.get_or_create(
            "telegram:1", language="zh", display_name="张三", username="zhang"
        )
    assert created
    assert (first.display_name, first.language, first.erased_at) == ("张三", "zh", None)
    assert first.created_at == clock()

    clock.advance(minutes=5)
    async with db.write() as tx:
        same, created = await tx.clients.get_or_create(
            "telegram:1", language="en", display_name=None, username=None
        )
        assert not created and same == first  # no name given: nothing changes
        renamed, created = await tx.clients.get_or_create(
            "telegram:1", language="en", display_name="Zhang San", username=None
        )
        other, other_created = await tx.clients.get_or_create(
            "console:local", language="en", display_name=None, username=None
        )
    assert not created
    assert renamed.id == first.id
    assert renamed.display_name == "Zhang San"
    assert renamed.language == "zh"  # the language is only set on creation
    assert renamed.created_at == first.created_at
    assert other_created and other.id != first.id

    async with db.read() as tx:
        assert await tx.clients.by_address("telegram:1") == renamed
        assert await tx.clients.get(first.id) == renamed
        assert await tx.clients.by_address("telegram:2") is None
        assert await tx.clients.get(first.id + 1000) is None
        idents = await tx.clients.identities(first.id)
    assert len(idents) == 1
    ident = idents[0]
    assert (ident.address, ident.client_id, ident.channel, ident.username) == (
        "telegram:1",
        first.id,
        "telegram",
        "zhang",
    )
    assert ident.created_at == first.created_at
    assert ident.created_at.tzinfo is not None


async def test_set_language(db: Database) -> None:
    client = await new_client(db)
    async with db.write() as tx:
        await tx.clients.set_language(client.id, "en")
    async with db.read() as tx:
        assert (await tx.clients.get(client.id)).language == "en"


async def test_erase_wipes_personal_data_and_locks_records(db: Database, clock: FakeTime) -> None:
    alice = await new_client(db, "telegram:1", "Alice")
    bob = await new_client(db, "telegram:2", "Bob")
    async with db.write() as tx:
        for who, address in ((alice, "telegram:1"), (bob, "telegram:2")):
            msg = await inbound(tx, f"u-{who.id}", chat=address)
            await tx.messages.set_status(msg, "handled", client_id=who.id)
            await tx.messages.add_outbound(
                channel="telegram", chat=address, text="reply", payload={}, client_id=who.id
            )
            await tx.states.set(address, "menu", {"step": 1})
            await tx.subscriptions.subscribe(who.id, "news", channel="telegram", actor=address)
        await tx.subscriptions.unsubscribe(alice.id, "news", channel="telegram", actor="telegram:1")

    erased_at = clock.advance(days=1)
    async with db.write() as tx:
        await tx.clients.erase(alice.id)

    async with db.read() as tx:
        assert await tx.clients.by_address("telegram:1") is None
        assert await tx.clients.identities(alice.id) == []
        gone = await tx.clients.get(alice.id)
        assert gone is not None
        assert gone.display_name is None
        assert gone.erased_at == erased_at
        assert await tx.messages.count(client_id=alice.id) == 2
        assert await tx.messages.count(client_id=alice.id, locked=True) == 2
        assert all(m.locked for m in await tx.messages.for_chat("telegram:1"))
        assert await tx.states.get("telegram:1") is None
        assert [e.action for e in await tx.subscriptions.history(alice.id)] == [
            "subscribe",
            "unsubscribe",
        ]
        # Bob is untouched.
        assert await tx.clients.by_address("telegram:2") == bob
        assert await tx.messages.count(client_id=bob.id, locked=False) == 2
        assert await tx.states.get("telegram:2") is not None

    # The erased person is a stranger now: a new message makes a brand-new client.
    async with db.write() as tx:
        again, created = await tx.clients.get_or_create(
            "telegram:1", language="zh", display_name="Alice", username=None
        )
    assert created and again.id != alice.id and again.erased_at is None


# --- topics ---------------------------------------------------------------------------------


async def test_topic_upsert_and_disabled_topics(db: Database) -> None:
    async with db.write() as tx:
        assert await tx.topics.upsert(Topic("webinar", "网络研讨会", "Webinars", sort_order=15))
        assert not await tx.topics.upsert(
            Topic("news", "要闻", "Headlines", advisory=True, enabled=False, sort_order=90)
        )
    async with db.read() as tx:
        visible = [t.key for t in await tx.topics.list()]
        everything = [t.key for t in await tx.topics.list(include_disabled=True)]
        news = await tx.topics.get("news")
        webinar = await tx.topics.get("webinar")
        assert await tx.topics.get("nope") is None
    assert visible == ["webinar", *SEEDED[1:]]
    assert everything == ["webinar", *SEEDED[1:], "news"]  # news now sorts at 90
    assert news == Topic("news", "要闻", "Headlines", advisory=True, enabled=False, sort_order=90)
    assert webinar == Topic("webinar", "网络研讨会", "Webinars", False, True, 15)

    async with db.write() as tx:  # re-enabling brings it back
        assert not await tx.topics.upsert(
            Topic("news", "重要消息", "Important news", sort_order=10)
        )
    async with db.read() as tx:
        assert [t.key for t in await tx.topics.list()][:2] == ["news", "webinar"]


# --- subscriptions --------------------------------------------------------------------------


async def test_subscribe_unsubscribe_and_history(db: Database, clock: FakeTime) -> None:
    alice = await new_client(db, "telegram:1", "Alice")
    bob = await new_client(db, "console:bob", "Bob")
    t1 = clock.advance(minutes=1)
    async with db.write() as tx:
        assert await tx.subscriptions.subscribe(alice.id, "news", channel="telegram", actor="a")
        assert not await tx.subscriptions.subscribe(alice.id, "news", channel="telegram", actor="a")
        assert await tx.subscriptions.subscribe(bob.id, "news", channel="console", actor="b")
    t2 = clock.advance(minutes=1)
    async with db.write() as tx:
        assert await tx.subscriptions.subscribe(
            alice.id, "market", channel="console", actor="admin:9"
        )
        assert await tx.subscriptions.subscribe(alice.id, "risk", channel="telegram", actor="a")
    t3 = clock.advance(minutes=1)
    async with db.write() as tx:
        assert await tx.subscriptions.unsubscribe(alice.id, "news", channel="telegram", actor="a")
        assert not await tx.subscriptions.unsubscribe(
            alice.id, "news", channel="telegram", actor="a"
        )
        assert not await tx.subscriptions.unsubscribe(
            alice.id, "training", channel="telegram", actor="a"
        )

    async with db.read() as tx:
        assert await tx.subscriptions.of(alice.id) == ["market", "risk"]
        assert await tx.subscriptions.subscribers("news") == [bob.id]
        assert await tx.subscriptions.subscribers("market") == [alice.id]
        assert await tx.subscriptions.subscribers("training") == []
        history = await tx.subscriptions.history(alice.id)
    assert [(e.topic_key, e.action, e.channel, e.actor, e.at) for e in history] == [
        ("news", "subscribe", "telegram", "a", t1),
        ("market", "subscribe", "console", "admin:9", t2),
        ("risk", "subscribe", "telegram", "a", t2),
        ("news", "unsubscribe", "telegram", "a", t3),
    ]
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in history)

    t4 = clock.advance(minutes=1)
    async with db.write() as tx:
        stopped = await tx.subscriptions.unsubscribe_all(alice.id, channel="console", actor="x")
        assert await tx.subscriptions.unsubscribe_all(alice.id, channel="console", actor="x") == []
    assert stopped == ["market", "risk"]
    async with db.read() as tx:
        assert await tx.subscriptions.of(alice.id) == []
        assert await tx.subscriptions.subscribers("news") == [bob.id]
        tail = (await tx.subscriptions.history(alice.id))[4:]
    assert [(e.topic_key, e.action, e.channel, e.at) for e in tail] == [
        ("market", "unsubscribe", "console", t4),
        ("risk", "unsubscribe", "console", t4),
    ]


async def test_foreign_keys_are_enforced(db: Database) -> None:
    client = await new_client(db)
    with pytest.raises(IntegrityError):
        async with db.write() as tx:
            await tx.subscriptions.subscribe(client.id, "no-such-topic", channel="x", actor="x")
    with pytest.raises(IntegrityError):
        async with db.write() as tx:
            await tx.subscriptions.subscribe(client.id + 999, "news", channel="x", actor="x")
    async with db.read() as tx:
        assert await tx.subscriptions.history(client.id) == []


# --- messages -------------------------------------------------------------------------------


async def test_record_inbound_dedupes_and_keeps_the_transaction_usable(db: Database) -> None:
    async with db.write() as tx:
        first = await inbound(tx, "telegram:update:1")
        assert isinstance(first, int)
        assert await inbound(tx, "telegram:update:1") is None
        # After the conflict the same transaction keeps working (PostgreSQL aborts otherwise).
        second = await inbound(tx, "telegram:update:2")
        out = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:100", text="ok", payload={}
        )
        await tx.states.set("telegram:100", "menu")
    assert second is not None and first < second < out

    async with db.write() as tx:
        assert await inbound(tx, "telegram:update:1") is None  # also across transactions
        assert await inbound(tx, "telegram:update:2") is None
    async with db.read() as tx:
        assert await tx.messages.count() == 3
        assert await tx.messages.count(direction="in") == 2
        assert (await tx.states.get("telegram:100")).state == "menu"
        stored = await tx.messages.get(first)
    assert (stored.direction, stored.status, stored.attempts, stored.text) == (
        "in",
        "received",
        0,
        "hi",
    )
    assert stored.payload == {"text": "hi"}
    assert (stored.sender, stored.client_id, stored.locked) == ("telegram:100", None, False)


async def test_none_dedupe_keys_never_conflict(db: Database) -> None:
    async with db.write() as tx:
        ids = [await inbound(tx, None) for _ in range(3)]
    async with db.write() as tx:
        ids.append(await inbound(tx, None))
    assert None not in ids and len(set(ids)) == 4
    async with db.read() as tx:
        assert await tx.messages.count(direction="in") == 4


async def test_outbound_status_compare_and_set(db: Database, clock: FakeTime) -> None:
    client = await new_client(db)
    async with db.write() as tx:
        mid = await tx.messages.add_outbound(
            channel="telegram",
            chat="telegram:100",
            text="你好",
            payload={"buttons": [["是", "yes"]]},
            client_id=client.id,
            reply_to=7,
        )
    async with db.read() as tx:
        msg = await tx.messages.get(mid)
    assert (msg.direction, msg.status, msg.attempts, msg.kind) == ("out", "pending", 0, "text")
    assert (msg.client_id, msg.reply_to, msg.text) == (client.id, 7, "你好")
    assert msg.payload == {"buttons": [["是", "yes"]]}
    assert msg.created_at == clock()

    async with db.write() as tx:
        assert await tx.messages.set_status(mid, "sending", expect="pending")
        assert not await tx.messages.set_status(mid, "sending", expect="pending")  # lost the race
        assert (await tx.messages.get(mid)).attempts == 1
        assert not await tx.messages.set_status(mid, "sent", expect="pending")
        assert await tx.messages.set_status(mid, "failed", expect="sending", error="timeout")
    async with db.read() as tx:
        msg = await tx.messages.get(mid)
    assert (msg.status, msg.error, msg.attempts) == ("failed", "timeout", 1)

    async with db.write() as tx:  # without `expect` the move is unconditional
        assert await tx.messages.set_status(mid, "sending")
        assert await tx.messages.set_status(mid, "sent", expect="sending", platform_id="tg-55")
        assert not await tx.messages.set_status(mid + 1000, "sent")
    async with db.read() as tx:
        msg = await tx.messages.get(mid)
        assert await tx.messages.get(mid + 1000) is None
    assert (msg.status, msg.error, msg.attempts, msg.platform_id) == ("sent", None, 2, "tg-55")


async def test_with_status_filters_in_id_order(db: Database) -> None:
    async with db.write() as tx:
        a = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:1", text="a", payload={}
        )
        b = await tx.messages.add_outbound(
            channel="console", chat="console:1", text="b", payload={}
        )
        c = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:2", text="c", payload={}
        )
        d = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:1", text="d", payload={}
        )
        e = await inbound(tx, "e", chat="telegram:1")
        await tx.messages.set_status(c, "sent")
    async with db.read() as tx:
        pending = await tx.messages.with_status("out", "pending")
        telegram = await tx.messages.with_status("out", "pending", channel="telegram")
        console = await tx.messages.with_status("out", "pending", channel="console")
        sent = await tx.messages.with_status("out", "sent")
        received = await tx.messages.with_status("in", "received")
        limited = await tx.messages.with_status("out", "pending", limit=2)
        assert await tx.messages.with_status("in", "pending") == []
    assert [m.id for m in pending] == [a, b, d]
    assert [m.id for m in telegram] == [a, d]
    assert [m.id for m in console] == [b]
    assert [m.id for m in sent] == [c]
    assert [m.id for m in received] == [e]
    assert [m.id for m in limited] == [a, b]


async def test_last_outbound_with_buttons(db: Database) -> None:
    buttons = {"buttons": [[{"text": "订阅", "data": "sub:news"}]]}
    async with db.write() as tx:
        assert await tx.messages.last_outbound_with_buttons("telegram:1") is None
        older = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:1", text="menu 1", payload=buttons
        )
        newer = await tx.messages.add_outbound(
            channel="telegram", chat="telegram:1", text="menu 2", payload=buttons
        )
        await tx.messages.add_outbound(
            channel="telegram", chat="telegram:1", text="plain", payload={"buttons": []}
        )
        await tx.messages.add_outbound(channel="telegram", chat="telegram:1", text="x", payload={})
        await inbound(tx, "in-1", chat="telegram:1")
        await tx.messages.add_outbound(
            channel="telegram", chat="telegram:2", text="other chat", payload=buttons
        )
    async with db.read() as tx:
        found = await tx.messages.last_outbound_with_buttons("telegram:1")
        assert await tx.messages.last_outbound_with_buttons("telegram:3") is None
    assert found is not None and found.id == newer and found.id != older
    assert found.payload == buttons


async def test_for_chat_and_count(db: Database) -> None:
    async with db.write() as tx:
        ids = []
        for i in range(5):
            ids.append(await inbound(tx, f"k{i}", chat="telegram:1", text=f"q{i}"))
            ids.append(
                await tx.messages.add_outbound(
                    channel="telegram", chat="telegram:1", text=f"a{i}", payload={}
                )
            )
        await inbound(tx, "elsewhere", chat="telegram:2")
        await tx.messages.set_status(ids[0], "handled")
    async with db.read() as tx:
        everything = await tx.messages.for_chat("telegram:1")
        latest = await tx.messages.for_chat("telegram:1", limit=3)
        assert await tx.messages.for_chat("telegram:9") == []
        counts = (
            await tx.messages.count(),
            await tx.messages.count(chat="telegram:1"),
            await tx.messages.count(direction="in"),
            await tx.messages.count(direction="in", status="received"),
            await tx.messages.count(chat="telegram:2", direction="out"),
        )
    assert [m.id for m in everything] == ids
    assert [m.text for m in everything][:2] == ["q0", "a0"]
    assert [m.id for m in latest] == ids[-3:]  # newest three, oldest first
    assert counts == (11, 10, 6, 5, 0)


# --- conversation states --------------------------------------------------------------------


async def test_state_set_get_overwrite_clear(db: Database) -> None:
    data = {"name": "张三", "answers": ["是", "否"], "step": 2, "nested": {"备注": "长期持有"}}
    async with db.write() as tx:
        assert await tx.states.get("telegram:1") is None
        await tx.states.set("telegram:1", "survey", data)
        await tx.states.set("telegram:2", "idle")
    async with db.read() as tx:
        first = await tx.states.get("telegram:1")
        idle = await tx.states.get("telegram:2")
    assert (first.chat, first.state, first.data) == ("telegram:1", "survey", data)
    assert (idle.state, idle.data) == ("idle", {})

    async with db.write() as tx:
        await tx.states.set("telegram:1", "confirm", {"ok": True})
    async with db.read() as tx:
        assert await tx.states.get("telegram:1") == type(first)(
            "telegram:1", "confirm", {"ok": True}
        )

    async with db.write() as tx:
        await tx.states.clear("telegram:1")
        await tx.states.clear("telegram:404")  # clearing nothing is fine
    async with db.read() as tx:
        assert await tx.states.get("telegram:1") is None
        assert (await tx.states.get("telegram:2")).state == "idle"


# --- roles and audit ------------------------------------------------------------------------


async def test_roles_grant_revoke(db: Database) -> None:
    async with db.write() as tx:
        assert await tx.roles.of("telegram:1") == set()
        assert await tx.roles.grant("telegram:1", "staff", by="admin")
        assert not await tx.roles.grant("telegram:1", "staff", by="admin")
        assert await tx.roles.grant("telegram:1", "publisher", by="admin")
        assert await tx.roles.grant("console:x", "staff", by="admin")
    async with db.read() as tx:
        assert await tx.roles.of("telegram:1") == {"staff", "publisher"}
        assert await tx.roles.all() == [
            ("console:x", "staff"),
            ("telegram:1", "publisher"),
            ("telegram:1", "staff"),
        ]
    async with db.write() as tx:
        assert await tx.roles.revoke("telegram:1", "staff") == ["staff"]
        assert await tx.roles.revoke("telegram:1", "staff") == []
        assert await tx.roles.grant("telegram:1", "staff", by="admin")
        assert await tx.roles.revoke("telegram:1") == ["publisher", "staff"]
        assert await tx.roles.revoke("telegram:1") == []
    async with db.read() as tx:
        assert await tx.roles.of("telegram:1") == set()
        assert await tx.roles.all() == [("console:x", "staff")]


async def test_audit_log_and_recent(db: Database, clock: FakeTime) -> None:
    async with db.write() as tx:
        await tx.audit.log("telegram:1", "broadcast", topic="news", recipients=3, text="早盘提示")
        clock.advance(seconds=1)
        await tx.audit.log("telegram:1", "grant", role="staff", to="console:x")
        clock.advance(seconds=1)
        await tx.audit.log("console:x", "broadcast", topic="risk", recipients=0)
    async with db.read() as tx:
        everything = await tx.audit.recent()
        broadcasts = await tx.audit.recent("broadcast")
        newest = await tx.audit.recent(limit=1)
        assert await tx.audit.recent("erased") == []
    assert [(e["actor"], e["action"]) for e in everything] == [
        ("console:x", "broadcast"),
        ("telegram:1", "grant"),
        ("telegram:1", "broadcast"),
    ]
    assert everything[2]["detail"] == {"topic": "news", "recipients": 3, "text": "早盘提示"}
    assert [e["detail"]["topic"] for e in broadcasts] == ["risk", "news"]
    assert [e["id"] for e in newest] == [everything[0]["id"]]


async def test_audit_times_are_aware_utc(db: Database, clock: FakeTime) -> None:
    async with db.write() as tx:
        await tx.audit.log("telegram:1", "grant", role="staff")
    async with db.read() as tx:
        (entry,) = await tx.audit.recent()
    assert entry["at"].tzinfo is not None
    assert entry["at"] == clock()


# --- transactions and concurrency -----------------------------------------------------------


async def test_a_failing_write_transaction_is_rolled_back_completely(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.write() as tx:
            client, _ = await tx.clients.get_or_create(
                "telegram:1", language="zh", display_name="A", username=None
            )
            await tx.subscriptions.subscribe(client.id, "news", channel="telegram", actor="a")
            assert await inbound(tx, "k1", chat="telegram:1") is not None
            await tx.messages.add_outbound(
                channel="telegram", chat="telegram:1", text="x", payload={}
            )
            await tx.states.set("telegram:1", "menu")
            await tx.roles.grant("telegram:1", "staff", by="admin")
            await tx.audit.log("telegram:1", "subscribe")
            await tx.topics.upsert(Topic("tmp", "临时", "Temp"))
            raise Boom

    async with db.read() as tx:
        assert await tx.clients.by_address("telegram:1") is None
        assert await tx.subscriptions.subscribers("news") == []
        assert await tx.messages.count() == 0
        assert await tx.states.get("telegram:1") is None
        assert await tx.roles.all() == []
        assert await tx.audit.recent() == []
        assert await tx.topics.get("tmp") is None
    async with db.write() as tx:  # the dedupe key was never taken
        assert await inbound(tx, "k1", chat="telegram:1") is not None


async def test_concurrent_writers_all_succeed(db: Database) -> None:
    async def worker(i: int) -> int:
        async with db.write() as tx:
            client, created = await tx.clients.get_or_create(
                f"telegram:{i}", language="zh", display_name=f"user {i}", username=None
            )
            assert created
            assert await tx.subscriptions.subscribe(
                client.id, "news", channel="telegram", actor=f"telegram:{i}"
            )
            await asyncio.sleep(0)  # give the other writers a chance to interleave
            assert await inbound(tx, f"update-{i}", chat=f"telegram:{i}") is not None
            await tx.messages.add_outbound(
                channel="telegram", chat=f"telegram:{i}", text="ok", payload={}, client_id=client.id
            )
            await tx.audit.log(f"telegram:{i}", "subscribe", topic="news")
            return client.id

    ids = await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(20))), timeout=30)

    assert len(set(ids)) == 20
    async with db.read() as tx:
        assert await tx.subscriptions.subscribers("news") == sorted(ids)
        assert await tx.messages.count(direction="in") == 20
        assert await tx.messages.count(direction="out") == 20
        assert len(await tx.audit.recent(limit=100)) == 20
        for client_id in ids:
            assert len(await tx.subscriptions.history(client_id)) == 1


async def test_concurrent_redeliveries_record_exactly_once(db: Database) -> None:
    async def deliver() -> int | None:
        async with db.write() as tx:
            message_id = await inbound(tx, "telegram:update:42")
            # Hold the transaction open so the other delivery collides with it uncommitted.
            await asyncio.sleep(0.05)
            await tx.states.set("telegram:100", "after-insert")  # the tx is still usable
            return message_id

    results = await asyncio.wait_for(asyncio.gather(deliver(), deliver()), timeout=30)

    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and results.count(None) == 1
    async with db.read() as tx:
        assert await tx.messages.count(dedupe_key="telegram:update:42") == 1
        (stored,) = await tx.messages.with_status("in", "received")
    assert stored.id == winners[0]


async def _same_key_write(tx: Tx, operation: str, client_id: int) -> bool | None:
    if operation == "get_or_create":
        _, created = await tx.clients.get_or_create(
            "telegram:2", language="zh", display_name="B", username=None
        )
        return created
    if operation == "subscribe":
        return await tx.subscriptions.subscribe(client_id, "news", channel="telegram", actor="a")
    if operation == "grant":
        return await tx.roles.grant("telegram:1", "staff", by="admin")
    await tx.states.set("telegram:1", "menu", {"n": 1})
    return None


async def _same_key_rows(tx: Tx, operation: str, client_id: int) -> int:
    if operation == "get_or_create":
        client = await tx.clients.by_address("telegram:2")
        return len(await tx.clients.identities(client.id)) if client else 0
    if operation == "subscribe":
        return len(await tx.subscriptions.history(client_id))
    if operation == "grant":
        return len(await tx.roles.all())
    return int(await tx.states.get("telegram:1") is not None)


@pytest.mark.parametrize("operation", ["get_or_create", "subscribe", "grant", "state_set"])
async def test_concurrent_idempotent_writes_on_the_same_key(db: Database, operation: str) -> None:
    """Two workers doing the same idempotent write at once: both succeed, one row results."""
    client = await new_client(db, "telegram:1")

    both_inside = asyncio.Barrier(2)

    async def write() -> bool | None:
        async with db.write() as tx:
            if not db.is_sqlite:  # SQLite admits one writer at a time; others let both in
                await both_inside.wait()
            result = await _same_key_write(tx, operation, client.id)
            await asyncio.sleep(0.1)  # stay uncommitted while the other writer runs
            return result

    results = await asyncio.wait_for(asyncio.gather(write(), write()), timeout=30)

    if operation != "state_set":
        assert sorted(results) == [False, True]
    async with db.read() as tx:
        assert await _same_key_rows(tx, operation, client.id) == 1


async def test_erase_locks_messages_not_yet_linked_to_the_client(db: Database) -> None:
    """An event that failed before it was linked still belongs to its sender."""
    async with db.write() as tx:
        failed = await inbound(tx, "k-failed", chat="telegram:7", text="我的手机号 13800000000")
        assert failed is not None
        await tx.messages.set_status(failed, "failed")
        other = await inbound(tx, "k-other", chat="telegram:8")
    client = await new_client(db, "telegram:7")
    async with db.write() as tx:
        await tx.clients.erase(client.id)
    async with db.read() as tx:
        assert (await tx.messages.get(failed)).locked  # type: ignore[union-attr]
        assert not (await tx.messages.get(other)).locked  # type: ignore[union-attr, arg-type]


# --- FAQ and meta ---------------------------------------------------------------------------


async def test_faq_entries_save_replace_delete_and_version(db: Database, clock: FakeTime) -> None:
    entry = FaqEntry(
        "open",
        "zh",
        "开户",
        "怎么开户",
        "答案",
        variants=("开户流程",),
        tags=("开户",),
        buttons=({"label": "订阅", "command": "/topics"},),
    )
    async with db.write() as tx:
        v0 = await tx.faq.version()
        assert await tx.faq.save(entry, by="staff:1") is True
    clock.advance(seconds=1)
    async with db.write() as tx:
        v1 = await tx.faq.version()
        assert (
            await tx.faq.save(FaqEntry("open", "zh", "开户", "怎么开户?", "新答案"), by="x")
            is False
        )
        got = await tx.faq.get("open")
        v2 = await tx.faq.version()
    assert v0 != v1 != v2
    assert (
        got is not None and got.answer == "新答案" and got.variants == () and got.updated_by == "x"
    )
    async with db.write() as tx:
        assert await tx.faq.delete("open") is True
        assert await tx.faq.delete("open") is False
        assert await tx.faq.entries() == []


async def test_faq_entries_and_synonyms_saved_many_at_once(db: Database, clock: FakeTime) -> None:
    """The bulk forms (loading the shipped base) write what one call at a time would."""
    async with db.write() as tx:
        assert await tx.faq.save(FaqEntry("open", "zh", "开户", "怎么开户", "旧答案"), by="x")
        await tx.faq.set_synonym("提现", "出金", by="x")
        before = await tx.faq.version()
    clock.advance(seconds=1)
    batch = [
        FaqEntry("open", "zh", "开户", "怎么开户", "新答案", variants=("开户流程",)),
        FaqEntry("fees", "zh", "费用", "手续费多少", "万分之一", tags=("费用",)),
        FaqEntry("fees", "zh", "费用", "手续费多少", "万分之二"),  # the last one wins
    ]
    async with db.write() as tx:
        version = await tx.config_version()
        assert await tx.faq.save_many(batch, by="system") == 1, "only 'fees' was new"
        await tx.faq.set_synonyms({"提现": "出款", "佣金": "手续费"}, by="system")
        assert await tx.config_version() != version, "cached FAQ data is stale"
        entries = {e.id: e for e in await tx.faq.entries()}
        assert await tx.faq.synonyms() == {"提现": "出款", "佣金": "手续费"}
        assert await tx.faq.version() != before
        assert await tx.faq.save_many([], by="system") == 0
    assert entries["open"].answer == "新答案" and entries["open"].variants == ("开户流程",)
    assert entries["fees"].answer == "万分之二" and entries["fees"].tags == ()
    assert {(e.updated_by, e.updated_at) for e in entries.values()} == {("system", clock())}


async def test_faq_synonyms_feedback_and_unanswered(db: Database, clock: FakeTime) -> None:
    client = await new_client(db)
    async with db.write() as tx:
        await tx.faq.set_synonym("提现", "出金", by="a")
        await tx.faq.set_synonym("提现", "出款", by="b")
        assert await tx.faq.synonyms() == {"提现": "出款"}
        assert await tx.faq.feedback("open", 7, client_id=client.id, helpful=True) is True
        assert await tx.faq.feedback("open", 7, client_id=client.id, helpful=False) is False
        await tx.faq.feedback("open", 8, client_id=None, helpful=False)
        assert await tx.faq.feedback_counts() == {"open": (1, 1)}
        first = await tx.faq.record_unanswered(
            message_id=9,
            client_id=client.id,
            chat="telegram:100",
            text="年会?",
            normalized="年会",
            best_entry=None,
            best_score=None,
        )
        again = await tx.faq.record_unanswered(
            message_id=9,
            client_id=client.id,
            chat="telegram:100",
            text="年会?",
            normalized="年会",
            best_entry=None,
            best_score=None,
        )
        assert first == again
        assert await tx.faq.hand_off(first, chat="telegram:999") is None, "only its own chat"
        handed = await tx.faq.hand_off(first, chat="telegram:100")
        assert handed is not None and handed.handed_off and handed.at == clock()
        assert [u.id for u in await tx.faq.unanswered_since(clock())] == [first]
        assert await tx.faq.unanswered_since(clock() + timedelta(seconds=1)) == []
        await tx.clients.erase(client.id)
        assert await tx.faq.unanswered_since(clock()) == [], "locked with the client"


async def test_meta_get_set(db: Database) -> None:
    async with db.write() as tx:
        assert await tx.meta.get("k") is None
        await tx.meta.set("k", "1")
        await tx.meta.set("k", "2")
        assert await tx.meta.get("k") == "2"


# --- WeCom: sessions people hold, questions about new contacts ---------------------------------


async def test_wecom_sessions_and_questions_and_their_erasure(db: Database) -> None:
    zhang = await new_client(db, "qq:1", "张三")
    other = await new_client(db, "qq:2", "张三")
    contact = await new_client(db, "wecom:wmX", "张三")
    async with db.write() as tx:
        await tx.files.set(other.id, advisor="telegram:9")  # someone else's client
        await tx.wecom_sessions.set("wecom:wmX", 3, "zhangsan")
        await tx.wecom_sessions.set("wecom:wmY", 4)
        assert await tx.wecom_questions.ask(contact.id, "wecom:wmX", "telegram:7", "Sunny")
        assert not await tx.wecom_questions.ask(contact.id, "wecom:wmX", "telegram:7", "Sunny")
    async with db.read() as tx:
        assert await tx.wecom_sessions.held("wecom:wmX") == "zhangsan"
        assert await tx.wecom_sessions.held("wecom:wmY") is None
        assert await tx.wecom_sessions.states(["wecom:wmX", "wecom:wmZ"]) == {
            "wecom:wmX": (3, "zhangsan")
        }
        found = await tx.wecom_questions.candidates("telegram:7", ["张三", ""], contact.id)
        assert [c.id for c, _ in found] == [zhang.id]  # not the other advisor's, not itself
        assert [q.client_id for q in await tx.wecom_questions.open_for("telegram:7")] == [
            contact.id
        ]
    async with db.write() as tx:
        assert await tx.wecom_questions.answer(contact.id, "new")
        assert not await tx.wecom_questions.answer(contact.id, "merged:1")  # answered once
    async with db.write() as tx:
        await tx.clients.erase(contact.id)
    async with db.read() as tx:
        assert await tx.wecom_questions.get(contact.id) is None
        assert await tx.wecom_sessions.states(["wecom:wmX"]) == {}
