"""客户联系: a client adds an advisor as a WeCom contact. The event is archived once (WeCom's
retries too), the client's WeCom address gets a file — joined to their existing one by the
binding code the 联系我 link carries — the advisor becomes theirs, and the welcome goes out
with the event's one-time code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.conftest import SettingsFactory
from tests.e2e.wecom.conftest import CORP, KF_SECRET, KFID, WecomBot
from tests.fakes.wecom_api import FakeWecomApi
from tests.support import eventually

CONTACT_SECRET = "contactSecret0123456789abcdefghijklmn"
CLIENT = "wmClientCCCCCCCCCCCCCCCCCCCCCC"


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    api = FakeWecomApi(CORP, {KF_SECRET: ["kf"], CONTACT_SECRET: ["contact"]}, open_kfids=(KFID,))
    async with api:
        yield api


@pytest.fixture
async def wc(
    make_wecom: Callable[..., Awaitable[WecomBot]], make_settings: SettingsFactory
) -> WecomBot:
    bot = await make_wecom(WECOM_CONTACT_SECRET=CONTACT_SECRET)
    async with bot.app.db.write() as tx:
        await tx.roles.grant("console:adv1", "advisor", by="test")
        await tx.advisors.link_wecom("console:adv1", "zhangsan")
    return bot


async def added(bot: WecomBot, state: str = "") -> None:
    code = bot.api.contact_added("zhangsan", CLIENT, state=state)
    result = await bot.wecom.contact_added("zhangsan", CLIENT, state=state, welcome_code=code)
    assert result.delivered

    async def welcomed() -> bool:
        return bool(bot.api.welcomes)

    await eventually(welcomed, what="the welcome")

    async def handled() -> bool:  # (the advisor's notice waits for a console: not sent here)
        async with bot.app.db.read() as tx:
            return not await tx.messages.count(direction="in", status="received")

    await eventually(handled, what="the event to be handled")


async def test_a_new_contact_becomes_the_advisors_client_and_is_welcomed(wc: WecomBot) -> None:
    await added(wc)
    [welcome] = wc.api.welcomes
    assert welcome.external_userid == CLIENT and "国瑞投资" in welcome.content
    async with wc.app.db.read() as tx:
        client = await tx.clients.by_address(f"wecom:{CLIENT}")
        assert client is not None
        assert (await tx.files.fields(client.id)).advisor == "console:adv1"
        archived = await tx.messages.for_chat(f"wecom:{CLIENT}", limit=10)
        told = await tx.messages.for_chat("console:adv1", limit=10)
    assert [m.direction for m in archived] == ["in"]  # the event, kept like any client act
    assert any(f"#{client.id}" in m.text and "/client merge" in m.text for m in told)


async def test_a_binding_code_in_the_link_joins_the_clients_file(wc: WecomBot) -> None:
    async with wc.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            "telegram:4242", language="zh", display_name=None, username=None
        )
        code = await tx.links.issue(client.id, "telegram:4242")
    await added(wc, state=f"bind_{code}")
    async with wc.app.db.read() as tx:
        joined = await tx.clients.by_address(f"wecom:{CLIENT}")
    assert joined is not None and joined.id == client.id


async def test_a_phone_the_advisor_noted_finds_the_clients_file(wc: WecomBot) -> None:
    async with wc.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            "telegram:4242", language="zh", display_name=None, username=None
        )
        await tx.files.set(client.id, phone="13912345678")
    wc.api.add_contact("zhangsan", CLIENT)
    wc.api.set_remark_mobiles("zhangsan", CLIENT, ["+86 139-1234-5678"])
    await added(wc)
    async with wc.app.db.read() as tx:
        joined = await tx.clients.by_address(f"wecom:{CLIENT}")
        told = await tx.messages.for_chat("console:adv1", limit=10)
    assert joined is not None and joined.id == client.id
    assert not told  # nothing to merge: no new file
