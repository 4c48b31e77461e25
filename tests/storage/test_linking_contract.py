"""One client, several addresses, on every backend: binding codes (single use, expiring,
locked after wrong guesses), links that never move an address in silence, and merges that
keep everything on the older file."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from storage.database import Database
from storage.records import Client
from storage.repos.client_import import ClientRow, LinksTaken
from storage.schema import client_notes, clients, messages
from tests.fakes.clock import FakeTime


async def client(db: Database, address: str, **file: object) -> Client:
    async with db.write() as tx:
        found, _ = await tx.clients.get_or_create(
            address, language="zh", display_name=address, username=None
        )
        if file:
            await tx.files.set(found.id, **file)
    return found


async def test_a_code_joins_the_address_it_is_sent_from_once(db: Database, clock: FakeTime) -> None:
    owner = await client(db, "telegram:1")
    async with db.write() as tx:
        code = await tx.links.issue(owner.id, "telegram:1")
    assert len(code) == 6 and code.isdigit()
    async with db.write() as tx:  # an address the bot has never seen
        done = await tx.links.redeem(code, "qq:500")
    assert done.status == "linked" and done.client_id == owner.id
    async with db.write() as tx:
        assert (await tx.clients.by_address("qq:500")).id == owner.id  # type: ignore[union-attr]
        again = await tx.links.redeem(code, "wechat:o1")  # used up
    assert again.status == "wrong"

    async with db.write() as tx:
        code = await tx.links.issue(owner.id, "telegram:1")
        older = code
        code = await tx.links.issue(owner.id, "telegram:1")  # a new one replaces it
    clock.advance(minutes=11)
    async with db.write() as tx:
        assert (await tx.links.redeem(code, "wechat:o1")).status == "wrong"  # expired
        if older != code:
            assert (await tx.links.redeem(older, "wechat:o1")).status == "wrong"


async def test_five_wrong_codes_lock_binding_for_that_address_an_hour(
    db: Database, clock: FakeTime
) -> None:
    owner = await client(db, "telegram:1")
    async with db.write() as tx:
        code = await tx.links.issue(owner.id, "telegram:1")
    wrong = "000000" if code != "000000" else "000001"
    lefts = []
    for _ in range(4):
        async with db.write() as tx:
            lefts.append((await tx.links.redeem(wrong, "wechat:x")).left)
    assert lefts == [4, 3, 2, 1]
    async with db.write() as tx:
        locked = await tx.links.redeem(wrong, "wechat:x")
    assert locked.status == "locked" and locked.until == clock() + dt.timedelta(hours=1)
    async with db.write() as tx:  # even the right code is refused meanwhile
        assert (await tx.links.redeem(code, "wechat:x")).status == "locked"
        assert (await tx.links.redeem(code, "wechat:y")).status == "linked"  # another address


async def test_linking_never_moves_an_address_of_another_client(db: Database) -> None:
    a = await client(db, "telegram:1")
    b = await client(db, "wechat:o2")
    async with db.write() as tx:
        assert await tx.links.attach(a.id, "wechat:o2") == "taken"
        assert await tx.links.attach(a.id, "telegram:1") == "same"
        assert await tx.links.attach(a.id, "qq:9") == "linked"
        assert await tx.links.detach(b.id, "wechat:o2") == "last"
        assert await tx.links.detach(b.id, "qq:9") == "not_theirs"
        assert await tx.links.detach(a.id, "qq:9") == "unlinked"
        assert (await tx.clients.by_address("wechat:o2")).id == b.id  # type: ignore[union-attr]


async def test_a_merge_keeps_everything_on_the_older_file(db: Database, clock: FakeTime) -> None:
    old = await client(db, "telegram:1", tier="vip", advisor="telegram:501")
    clock.advance(days=1)
    new = await client(db, "wechat:o2", tier="vip", advisor="telegram:502", phone="13912345678")
    async with db.write() as tx:
        for who, topics in ((old, ("morning", "risk")), (new, ("risk", "news"))):
            for topic in topics:
                await tx.subscriptions.subscribe(who.id, topic, channel="x", actor="t")
        await tx.files.add_tag(old.id, "黄金")
        await tx.files.add_tag(new.id, "黄金")
        await tx.files.add_tag(new.id, "白银")
        await tx.files.add_note(new.id, "telegram:501", "likes calls")
        ticket = await tx.tickets.create(
            actor="wechat:o2", number="TS-20261202-0001", kind="complaint", client_id=new.id,
            chat="wechat:o2", text="慢", vip=False, due_at=tx.now() + dt.timedelta(hours=4),
        )  # fmt: skip
    async with db.write() as tx:
        merged = await tx.links.merge(new.id, old.id, by="console:staff")
    # The phone's sms: address moves with the phone.
    assert (merged.kept, merged.gone) == (old.id, new.id)
    assert sorted(merged.addresses) == ["sms:13912345678", "wechat:o2"]
    assert merged.conflicts == {"advisor": ("telegram:501", "telegram:502")}
    async with db.read() as tx:
        assert (await tx.clients.by_address("wechat:o2")).id == old.id  # type: ignore[union-attr]
        assert await tx.subscriptions.of(old.id) == ["morning", "news", "risk"]
        assert sorted(await tx.files.tags(old.id)) == ["白银", "黄金"]
        assert (await tx.tickets.get(ticket.id)).client_id == old.id  # type: ignore[union-attr]
        row = (await tx.conn.execute(sa.select(clients).where(clients.c.id == old.id))).one()
        assert (row.tier, row.advisor, row.phone) == ("vip", "telegram:501", "13912345678")
        notes = [r.text for r in await tx.conn.execute(sa.select(client_notes))]
        assert "likes calls" in notes and any("telegram:502" in n for n in notes)
        assert await tx.clients.get(new.id) is None
        assert not (
            await tx.conn.execute(sa.select(messages.c.id).where(messages.c.client_id == new.id))
        ).all()


async def test_erasure_takes_every_address_and_any_live_code(db: Database) -> None:
    owner = await client(db, "telegram:1")
    async with db.write() as tx:
        assert await tx.links.attach(owner.id, "wechat:o1") == "linked"
        code = await tx.links.issue(owner.id, "telegram:1")
        await tx.clients.erase(owner.id)
    async with db.write() as tx:
        assert await tx.clients.by_address("telegram:1") is None
        assert await tx.clients.by_address("wechat:o1") is None
        assert (await tx.links.redeem(code, "qq:5")).status == "wrong"


async def test_a_client_list_joins_links_and_exports_one_row_per_client(
    db: Database, clock: FakeTime
) -> None:
    known = await client(db, "telegram:1")
    clock.advance(minutes=1)
    page = [
        ClientRow("telegram:1", links=("qq:500",)),
        ClientRow("wechat:o1", "李四", links=("telegram:2", "qq:501")),
    ]
    async with db.write() as tx:
        assert await tx.client_lists.import_page(page, actor="t", default_language="zh") == (1, 1)
    async with db.write() as tx:  # listing them again changes nothing
        assert await tx.client_lists.import_page(page, actor="t", default_language="zh") == (0, 2)
    async with db.read() as tx:
        assert (await tx.clients.by_address("qq:500")).id == known.id  # type: ignore[union-attr]
        li = await tx.clients.by_address("wechat:o1")
        assert li is not None and li.display_name == "李四"
        for linked in ("telegram:2", "qq:501"):
            assert (await tx.clients.by_address(linked)).id == li.id  # type: ignore[union-attr]
        rows = [(r["address"], r["links"]) async for r in tx.client_lists.export(page=1)]
    # The address each file began with first, the others after it (oldest first, then by name).
    assert rows == [("telegram:1", "qq:500"), ("wechat:o1", "qq:501;telegram:2")]


async def test_a_client_list_never_moves_an_address_of_another_client(db: Database) -> None:
    a = await client(db, "telegram:1")
    await client(db, "wechat:o2")
    for row in (
        ClientRow("telegram:1", "改名", links=("qq:9", "wechat:o2")),
        ClientRow("qq:77", links=("wechat:o2",)),  # a new client may not take it either
    ):
        with pytest.raises(LinksTaken) as raised:
            async with db.write() as tx:
                await tx.client_lists.import_page(
                    [ClientRow("qq:1"), row], actor="t", default_language="zh"
                )
        [taken] = raised.value.taken
        assert (taken.address, taken.link, taken.client) == (
            row.address,
            "wechat:o2",
            a.id if row.address == "telegram:1" else None,
        )
    async with db.read() as tx:
        for nowhere in ("qq:1", "qq:9", "qq:77"):
            assert await tx.clients.by_address(nowhere) is None
        assert (await tx.clients.get(a.id)).display_name == "telegram:1"  # type: ignore[union-attr]
        assert (await tx.clients.by_address("wechat:o2")).id != a.id  # type: ignore[union-attr]
