"""SMS consent and opt-outs: the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from storage.database import Database
from storage.records import SmsConsent, SmsOptOut
from tests.fakes.clock import FakeTime
from tests.storage.test_contract import new_client


async def test_consent_is_unknown_until_given_then_recorded_with_when_and_how(
    db: Database, clock: FakeTime
) -> None:
    alice = await new_client(db, "telegram:1", "Alice")
    async with db.write() as tx:
        assert await tx.sms.consent(alice.id) == SmsConsent(None)
        await tx.files.set(alice.id, phone="13912345678")
        given = await tx.sms.set_consent(alice.id, True, "chat")
    assert given == SmsConsent(True, clock(), "chat")

    later = clock.advance(hours=2)
    async with db.write() as tx:
        await tx.sms.set_consent(alice.id, False, "staff")
    async with db.read() as tx:
        assert await tx.sms.consent(alice.id) == SmsConsent(False, later, "staff")
        assert (await tx.files.get(alice)).sms == SmsConsent(False, later, "staff")
        # Withdrawn: the phone is opted out too, by the same hand.
        assert await tx.sms.opted_out("13912345678") == SmsOptOut("13912345678", later, "staff")
        assert await tx.sms.consent(9999) == SmsConsent(None)


async def test_unknown_source_is_refused(db: Database) -> None:
    alice = await new_client(db)
    async with db.write() as tx:
        with pytest.raises(ValueError, match="source"):
            await tx.sms.set_consent(alice.id, True, "guess")


async def test_opt_out_by_number_keeps_the_first_and_consent_lifts_it(
    db: Database, clock: FakeTime
) -> None:
    alice = await new_client(db, "telegram:1", "Alice")
    first = clock()
    async with db.write() as tx:
        await tx.files.set(alice.id, phone="13912345678")
        await tx.sms.set_consent(alice.id, True, "import")
        assert await tx.sms.opt_out("13912345678", "reply", "TD")
        assert await tx.sms.opt_out("13800000000", "reply", "退订")  # nobody's number
    clock.advance(minutes=5)
    async with db.write() as tx:
        assert not await tx.sms.opt_out("13912345678", "reply", "R")  # a second reply
    async with db.read() as tx:
        assert await tx.sms.opted_out("13912345678") == SmsOptOut(
            "13912345678", first, "reply", "TD"
        )
        assert await tx.sms.consenting() == []  # consent given, but the number said no
        assert await tx.sms.opted_out("13700000000") is None

    async with db.write() as tx:  # the client says /sms on again
        await tx.sms.set_consent(alice.id, True, "chat")
    async with db.read() as tx:
        assert await tx.sms.opted_out("13912345678") is None
        assert await tx.sms.consenting() == [(alice.id, "13912345678")]
    async with db.write() as tx:
        assert not await tx.sms.opt_in("13912345678")
        assert await tx.sms.opt_in("13800000000")


async def test_consenting_leaves_out_unknown_refused_phoneless_and_erased(db: Database) -> None:
    ids = []
    for n in range(5):
        client = await new_client(db, f"telegram:{n + 1}", f"C{n}")
        ids.append(client.id)
    async with db.write() as tx:
        for i, client_id in enumerate(ids):
            if i != 3:
                await tx.files.set(client_id, phone=f"1391234000{i}")
        await tx.sms.set_consent(ids[0], True, "import")
        await tx.sms.set_consent(ids[1], False, "import")
        # ids[2]: never asked
        await tx.sms.set_consent(ids[3], True, "chat")  # no phone on file
        await tx.sms.set_consent(ids[4], True, "staff")
        await tx.clients.erase(ids[4])
    async with db.read() as tx:
        assert await tx.sms.consenting() == [(ids[0], "13912340000")]
        # Erasure takes the consent with the phone.
        assert await tx.sms.consent(ids[4]) == SmsConsent(None)


async def test_a_phone_on_file_is_the_clients_sms_address_and_follows_it(db: Database) -> None:
    alice = await new_client(db, "telegram:1", "Alice")
    bob = await new_client(db, "telegram:2", "Bob")
    async with db.write() as tx:
        await tx.files.set(alice.id, phone="13912345678")
        await tx.files.set(bob.id, phone="13912345678")  # a shared number: the first keeps it
    async with db.read() as tx:
        assert (await tx.clients.by_address("sms:13912345678")).id == alice.id  # type: ignore[union-attr]
    async with db.write() as tx:
        await tx.files.set(alice.id, phone="13800000000")
        await tx.sms.sync_addresses()  # the number freed goes to the next client who has it
    async with db.read() as tx:
        addresses = {i.address for i in await tx.clients.identities(alice.id)}
        assert addresses == {"telegram:1", "sms:13800000000"}
        assert (await tx.clients.by_address("sms:13912345678")).id == bob.id  # type: ignore[union-attr]


async def test_a_receipt_before_its_send_is_recorded_settles_it_later_and_once(
    db: Database, clock: FakeTime
) -> None:
    async with db.write() as tx:
        row = await tx.messages.add_outbound(
            channel="sms", chat="sms:13912345678", text="您好", payload={}
        )
        # The carrier's word comes before the send's answer was written.
        settled = await tx.sms.receipt(
            message_id="biz-1", phone="13912345678", delivered=True, code="DELIVERED"
        )
        assert settled is None
        await tx.messages.set_status(row, "sent", platform_id="biz-1")
    async with db.write() as tx:
        assert await tx.sms.settle_waiting() == 1
        assert await tx.sms.settle_waiting() == 0
        # The same receipt again, and a contrary one: the first word stands.
        again = await tx.sms.receipt(
            message_id="biz-1", phone="13912345678", delivered=False, code="UNDELIV"
        )
        assert again == row
    async with db.read() as tx:
        stored = await tx.messages.get(row)
        assert stored is not None and stored.status == "delivered" and stored.error is None
