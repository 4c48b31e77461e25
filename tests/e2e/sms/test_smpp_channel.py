"""The SMS channel on an SMPP 3.4 gateway (a licensed 106 number): the bot binds to the fake
gateway, an alert reaches the SMS client with the sign name in front, the carrier's receipt
settles the row, a reply R opts the number out, other words reach a person."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.commands import text_event
from tests.conftest import SettingsFactory
from tests.e2e.platform_process import PlatformProcess
from tests.e2e.sms.conftest import STAFF
from tests.fakes.clock import FakeTime
from tests.fakes.smpp_gateway import FakeSmppGateway
from tests.harness import RecordingSender
from tests.support import eventually, free_port

BOB = "13800000001"


@pytest.fixture
async def smpp_bot(
    make_settings: SettingsFactory,
) -> AsyncIterator[tuple[PlatformProcess, FakeSmppGateway]]:
    async with FakeSmppGateway() as gateway:
        settings = make_settings(
            SMS_PROVIDER="smpp", SMS_SMPP_HOST="127.0.0.1", SMS_SMPP_PORT=str(gateway.port),
            SMS_SMPP_SYSTEM_ID="guorui", SMS_SMPP_PASSWORD="s3cret",
            SMS_SMPP_SOURCE_ADDR="1069012345", SMS_SIGN_NAME="国瑞投资", SMS_TOPICS="risk",
            STAFF_CHAT=STAFF, BOT_ADMINS=STAFF, HTTP_HOST="127.0.0.1", HTTP_PORT=str(free_port()),
        )  # fmt: skip
        console = RecordingSender()
        bot = PlatformProcess(settings, senders=[console], clock=FakeTime(ticking=True))
        await bot.start()
        await eventually(lambda: gateway.bound_sessions == 1, what="the bind")
        try:
            yield bot, gateway
        finally:
            await bot.stop()


async def test_an_alert_goes_through_the_gateway_and_its_receipt_and_replies_come_back(
    smpp_bot: tuple[PlatformProcess, FakeSmppGateway],
) -> None:
    bot, gateway = smpp_bot
    async with bot.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            f"sms:{BOB}", language="zh", display_name=None, username=None
        )
        await tx.files.set(client.id, phone=BOB)
        await tx.sms.set_consent(client.id, True, "staff")
        await tx.subscriptions.subscribe(client.id, "risk", channel="x", actor="t")
    await bot.app.inbox.receive(text_event("console", STAFF, STAFF, "/alert 金价急跌"))
    await eventually(lambda: gateway.messages_to(BOB), what="the text at the gateway")
    [message] = gateway.messages_to(BOB)
    assert message.text.startswith("【国瑞投资】金价急跌")
    await bot.settled()
    await gateway.receipt(message.message_ids[0])

    async def delivered() -> bool:
        async with bot.app.db.read() as tx:
            rows = await tx.messages.for_chat(f"sms:{BOB}")
        return [r.status for r in rows] == ["delivered"]

    await eventually(delivered, what="the receipt to settle the row")
    await gateway.reply(BOB, "TD")

    async def opted() -> bool:
        async with bot.app.db.read() as tx:
            return await tx.sms.opted_out(BOB) is not None

    await eventually(opted, what="the opt-out")
    await gateway.reply(BOB, "请顾问给我回电话")

    async def ticket() -> bool:
        async with bot.app.db.read() as tx:
            return len(await tx.tickets.of_client(client.id)) == 1

    await eventually(ticket, what="the ticket")
    await eventually(lambda: len(gateway.messages_to(BOB)) >= 2, what="the acknowledgement")
