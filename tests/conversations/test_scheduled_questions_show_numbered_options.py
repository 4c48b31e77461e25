"""Questions the bot asks on its own (a training invitation written by the broadcast fan-out,
a return-visit survey written by its daily job) reach a channel without buttons with their
options numbered, in the client's language, and a typed number answers them."""

from __future__ import annotations

import datetime as dt

import pytest

from storage.schema import clients
from tests.conftest import SettingsFactory
from tests.harness import Harness, Sent

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

RELEASE = dt.date(2027, 1, 8)  # the December 2026 payrolls


@pytest.fixture
async def console(make_settings: SettingsFactory) -> Harness:
    bot = Harness(make_settings(TRAINING_SEATS="5"), buttons=False)
    await bot.start()
    yield bot  # type: ignore[misc]
    await bot.stop()


def to(bot: Harness, before: int, chat: str) -> list[Sent]:
    return [s for s in bot.sender.sent[before:] if s.chat == chat]


async def english(bot: Harness, user: str) -> None:
    async with bot.app.db.write() as tx:
        client = await tx.clients.by_address(f"console:{user}")
        assert client is not None
        await tx.clients.set_language(client.id, "en")


async def test_a_training_invitation_lists_its_answers_and_a_number_answers_it(
    console: Harness,
) -> None:
    for user in ("c1", "c2"):
        await console.say("/subscribe training", user=user)
    await english(console, "c2")
    before = len(console.sender.sent)
    morning = dt.datetime.combine(
        RELEASE - dt.timedelta(days=3), dt.time(9, 30), tzinfo=console.app.rhythm.tz
    )
    await console.app.fire("training", "-", morning)
    await console.idle()
    [zh] = to(console, before, "console:c1")
    assert "1. 参加\n2. 待定\n3. 不参加" in zh.plain and "回复数字" in zh.plain
    [en] = to(console, before, "console:c2")
    assert "1. Attend\n2. Maybe\n3. Not this time" in en.plain
    assert "reply with a number" in en.plain

    [seat] = await console.say("1", user="c1")
    assert "保留座位" in seat.plain
    async with console.app.db.read() as tx:
        [(_name, chat, answer, status, _at)] = await tx.training.attendees(RELEASE)
    assert (chat, answer, status) == ("console:c1", "attend", "seat")


async def test_a_return_visit_survey_lists_the_scores_and_a_number_answers_it(
    console: Harness,
) -> None:
    await console.say("/subscribe morning", user="c1")
    await console.say("/subscribe morning", user="c2")
    await english(console, "c2")
    async with console.app.db.write() as tx:  # both came three days ago
        await tx.conn.execute(
            clients.update().values(created_at=tx.now() - dt.timedelta(days=3, hours=1))
        )
    before = len(console.sender.sent)
    await console.app.fire("visits", "-", console.app.db.clock())
    await console.idle()
    [zh] = to(console, before, "console:c1")
    assert "1. 1⭐" in zh.plain and "5. 5⭐" in zh.plain and "回复数字" in zh.plain
    [en] = to(console, before, "console:c2")
    assert "5. 5⭐" in en.plain and "reply with a number" in en.plain

    [thanks] = await console.say("4", user="c1")
    assert "做得更好" in thanks.plain
    async with console.app.db.read() as tx:
        c1 = await tx.clients.by_address("console:c1")
        [(wave, score, _comment, _at)] = await tx.return_visits.of(c1.id)  # type: ignore[union-attr]
    assert (wave, score) == (3, 4)
