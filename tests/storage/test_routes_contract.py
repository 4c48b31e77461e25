"""Which of a client's addresses a push goes to, on every backend: one per client, the
reachable ones first, then the client's choice, then where they last wrote from."""

from __future__ import annotations

import datetime as dt

from bot.core.types import Outbound
from storage.database import Database
from storage.records import Outcome
from storage.schema import messages
from storage.sql_outbox import SqlOutbox
from tests.fakes.clock import FakeTime

AUDIENCE = {"topics": ["morning"]}
LEASE = dt.timedelta(seconds=30)


async def client_with(db: Database, *addresses: str) -> int:
    async with db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            addresses[0], language="zh", display_name=None, username=None
        )
        for address in addresses[1:]:
            assert await tx.links.attach(client.id, address) == "linked"
        await tx.subscriptions.subscribe(client.id, "morning", channel="x", actor="t")
    return client.id


async def wrote(db: Database, address: str) -> None:
    async with db.write() as tx:
        now = tx.now()
        await tx.conn.execute(
            messages.insert().values(
                direction="in",
                channel=address.split(":")[0],
                chat=address,
                sender=address,
                kind="text",
                text="hi",
                payload={},
                status="done",
                attempts=0,
                locked=False,
                created_at=now,
                updated_at=now,
            )
        )


async def routes(db: Database) -> tuple[list[str], dict[str, int]]:
    async with db.write() as tx:
        reach = await tx.broadcasts.reach(AUDIENCE)
        broadcast = await tx.broadcasts.create(
            author="console:local", kind="broadcast", audience=AUDIENCE, text="早盘",
            final={"zh": ["早盘"]}, priority=0, status="scheduled", send_at=tx.now(),
        )  # fmt: skip
        await tx.broadcasts.start(broadcast)
        rows = await tx.conn.execute(
            messages.select().where(messages.c.broadcast_id == broadcast.id)
        )
        return sorted(r.chat for r in rows), reach


async def test_one_push_per_client_on_the_reachable_then_chosen_then_latest_address(
    db: Database, clock: FakeTime
) -> None:
    both = await client_with(db, "telegram:1", "wechat:o1")
    await client_with(db, "wechat:o2")  # WeChat only, never wrote: outside the window
    await client_with(db, "wechat:o3")
    async with db.write() as tx:
        await tx.wechat.open_window("wechat:o3", dt.timedelta(hours=48), 5)
    chats, reach = await routes(db)
    assert chats == ["telegram:1", "wechat:o2", "wechat:o3"]  # o1's window is closed
    assert reach == {"telegram.direct": 1, "wechat.outside": 1, "wechat.window": 1}

    # Inside WeChat's window and more recent there: WeChat.
    await wrote(db, "telegram:1")
    clock.advance(minutes=5)
    await wrote(db, "wechat:o1")
    async with db.write() as tx:
        await tx.wechat.open_window("wechat:o1", dt.timedelta(hours=48), 5)
    chats, _ = await routes(db)
    assert "wechat:o1" in chats and "telegram:1" not in chats

    # The client's choice wins among the reachable…
    async with db.write() as tx:
        await tx.files.set(both, preferred="telegram:1")
    chats, _ = await routes(db)
    assert "telegram:1" in chats and "wechat:o1" not in chats
    # …but not over reach: a chosen WeChat whose window closed gives way to Telegram.
    async with db.write() as tx:
        await tx.files.set(both, preferred="wechat:o1")
        await tx.wechat.close_window("wechat:o1")
    chats, reach = await routes(db)
    assert "telegram:1" in chats and "wechat:o1" not in chats
    assert sum(reach.values()) == 3  # clients, not addresses


async def test_a_channel_segment_picks_among_that_channels_addresses(db: Database) -> None:
    await client_with(db, "telegram:1", "wechat:o1")
    await client_with(db, "telegram:2")
    async with db.read() as tx:
        assert await tx.broadcasts.reach({"segment": {"channel": "wechat"}}) == {
            "wechat.outside": 1
        }
        assert await tx.broadcasts.audience_size({"segment": {"channel": "telegram"}}) == 2


async def test_a_mass_send_is_the_last_free_resort_unless_the_client_chose_wechat(
    db: Database, clock: FakeTime
) -> None:
    both = await client_with(db, "telegram:1", "wechat:o1")
    await wrote(db, "telegram:1")
    clock.advance(minutes=5)
    await wrote(db, "wechat:o1")  # more recent, but its window is closed
    mass = {**AUDIENCE, "wechat_mass": True}
    async with db.read() as tx:
        assert await tx.broadcasts.reach(mass) == {"telegram.direct": 1}
    async with db.write() as tx:
        await tx.files.set(both, preferred="wechat:o1")
    async with db.read() as tx:
        assert await tx.broadcasts.reach(mass) == {"wechat.mass": 1}
        assert await tx.broadcasts.reach(AUDIENCE) == {"telegram.direct": 1}  # no mass: Telegram


async def test_an_address_the_client_left_is_passed_over_until_they_write_again(
    db: Database,
) -> None:
    await client_with(db, "telegram:1", "wechat:o1")
    await client_with(db, "telegram:2")
    async with db.write() as tx:
        await tx.subscriptions.end_for_blocked(["telegram:1", "telegram:2"])
    async with db.read() as tx:  # the one with another address keeps its subscriptions
        reach = await tx.broadcasts.reach(AUDIENCE)
    assert reach == {"wechat.outside": 1}
    async with db.write() as tx:
        await tx.clients.context("telegram:1", "telegram:1")  # they write again
    async with db.read() as tx:
        assert await tx.broadcasts.reach(AUDIENCE) == {"telegram.direct": 1}


async def test_a_tags_mass_send_is_each_tagged_followers_one_copy(db: Database) -> None:
    """A subscription account's send to a topic's tag reaches every follower with the tag,
    so for them it is the push's only copy; a client who chose another address is not
    tagged; the day's send goes to one push only."""
    both = await client_with(db, "telegram:1", "wechat:o1")
    chose_telegram = await client_with(db, "telegram:2", "wechat:o2")
    await client_with(db, "wechat:o3")
    await client_with(db, "telegram:4")
    async with db.write() as tx:
        await tx.wechat.open_window("wechat:o3", dt.timedelta(hours=48), 5)
        await tx.files.set(chose_telegram, preferred="telegram:2")
        assert await tx.wechat_tags.to_tag({"morning"}, 100) == {
            "morning": ["wechat:o1", "wechat:o3"]
        }
        await tx.wechat_tags.set_tag("morning", 100, "早盘提示(morning)")
        await tx.wechat_tags.tagged("morning", ["wechat:o1", "wechat:o2", "wechat:o3"])
        assert await tx.wechat_tags.to_untag({"morning"}, 100) == {"morning": ["wechat:o2"]}
    tagged = {**AUDIENCE, "wechat_mass": "tag"}
    async with db.write() as tx:
        assert await tx.broadcasts.reach(tagged) == {"wechat.mass": 2, "telegram.direct": 2}
        first = await tx.broadcasts.create(
            author="console:local", kind="broadcast", audience=tagged, text="早盘",
            final={"zh": ["早盘"]}, priority=0, status="scheduled", send_at=tx.now(),
        )  # fmt: skip
        await tx.broadcasts.start(first)
        [job] = await tx.wechat_mass.of_broadcast(first.id)
        assert job.topic == "morning" and sorted(job.chats) == ["wechat:o1", "wechat:o3"]
        # Later the same day: the window's follower as usual, the one with Telegram there.
        assert await tx.broadcasts.reach(tagged) == {"telegram.direct": 3, "wechat.window": 1}
        assert await tx.broadcasts.mass_outlook(tagged) == {"kind": "day", "used_by": first.id}
        await tx.files.set(both, preferred=None)
        await tx.links.detach(both, "telegram:1")  # WeChat only now: not reached today
        assert await tx.broadcasts.reach(tagged) == {
            "telegram.direct": 2, "wechat.window": 1, "wechat.day": 1,
        }  # fmt: skip


async def test_a_push_tried_again_on_the_next_address_keeps_its_options_and_language(
    db: Database, clock: FakeTime
) -> None:
    """A two-part question whose options ride on its last part, to a client who reads
    English: Telegram, where they last wrote, refuses it for good; the second route gets the
    same parts, the options on the last one and the language they are in (a channel without
    buttons numbers them with a hint in that language)."""
    client = await client_with(db, "qq:7", "telegram:1")
    async with db.write() as tx:
        await tx.files.set(client, language="en")
    await wrote(db, "telegram:1")
    options = {
        lang: [[{"label": f"{lang} yes", "data": "q:yes"}, {"label": f"{lang} no", "data": "q:no"}]]
        for lang in ("zh", "en")
    }
    async with db.write() as tx:
        broadcast = await tx.broadcasts.create(
            author="console:local", kind="broadcast", audience=AUDIENCE, text="问题",
            final={"zh": ["问题", "是否参加?"], "en": ["Question", "Will you come?"]},
            priority=0, status="scheduled", send_at=tx.now(),
        )  # fmt: skip
        assert await tx.broadcasts.start(broadcast, buttons=options) == 1

    store = SqlOutbox(db)
    rows, _ = await store.claim("telegram", owner="me", until=clock() + LEASE, limit=10)
    assert [r.chat for r in rows] == ["telegram:1", "telegram:1"]
    await store.mark_sending("me", [r.id for r in rows])
    gone = "Forbidden: bot was blocked by the user"
    await store.finish("me", [Outcome(r.id, "blocked", gone, tries=1, chat=r.chat) for r in rows])

    async with db.read() as tx:
        again = await tx.messages.for_chat("qq:7")
    assert [(r.text, r.status) for r in again] == [
        ("Question", "pending"), ("Will you come?", "pending"),
    ]  # fmt: skip
    first, last = again
    assert first.payload["buttons"] == [] and last.payload["buttons"] == options["en"]
    assert last.payload["lang"] == "en" and last.payload["rerouted_from"] == "telegram:1"
    assert Outbound.buttons_from_payload(last.payload)  # what the sender will show
