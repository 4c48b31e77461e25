"""Finding clients on file by what staff know of them (the staff console's search): a part
of the name (any case), of the phone, of an address, or a tag; erased clients never, and a
`%` or `_` typed is a character, not a wildcard. Runs on every backend."""

from __future__ import annotations

from storage.database import Database
from storage.records import Client


async def on_file(db: Database, address: str, name: str | None) -> Client:
    async with db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            address, language="zh", display_name=name, username=None
        )
    return client


async def found(db: Database, text: str, limit: int = 50) -> list[int]:
    async with db.read() as tx:
        return [c.id for c in await tx.files.search(text, limit)]


async def test_search_by_name_phone_address_and_tag(db: Database) -> None:
    alice = await on_file(db, "telegram:100", "Alice Wang")
    bob = await on_file(db, "wechat:o_bob_1", "王小明")
    erased = await on_file(db, "qq:300", "Alice Gone")
    async with db.write() as tx:
        await tx.files.set(alice.id, phone="13800138000")
        await tx.files.add_tag(bob.id, "高净值")
        await tx.files.set(erased.id, phone="13800138999")
        await tx.clients.erase(erased.id)

    assert await found(db, "alice") == [alice.id]  # any case; the erased one is not found
    assert await found(db, "小明") == [bob.id]
    assert await found(db, "0013800") == [alice.id]
    assert await found(db, "13800138999") == []
    assert await found(db, "o_bob") == [bob.id]
    assert await found(db, "净值") == [bob.id]
    assert await found(db, "telegram:100") == [alice.id]
    assert await found(db, "") == []
    assert await found(db, "%") == [] and await found(db, "_") == [bob.id]  # o_bob_1 only


async def test_search_is_newest_first_and_limited(db: Database) -> None:
    made = [await on_file(db, f"telegram:{200 + n}", f"客户{n}") for n in range(5)]
    assert await found(db, "客户", limit=3) == [c.id for c in reversed(made)][:3]
