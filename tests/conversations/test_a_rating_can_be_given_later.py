"""A resolved ticket's rating stays answerable after other messages, on a channel without
buttons: /tickets offers it again with numbered scores, a rating may name its ticket
("评分 TS-… 5", "#1 3"), a bare "4分" rates the one ticket waiting for it, and a ticket is
rated once."""

from __future__ import annotations

import pytest

from storage.records import Ticket
from tests.conftest import SettingsFactory
from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

STAFF = "console:staffroom"


@pytest.fixture
async def desk(make_settings: SettingsFactory) -> Harness:
    harness = Harness(make_settings(STAFF_CHAT=STAFF), buttons=False)
    await harness.start()
    await harness.say("/grant console:adv1 advisor", user="admin")
    await harness.say("/duty on", user="adv1")
    yield harness  # type: ignore[misc]
    await harness.stop()


async def resolved(bot: Harness, what: str = "出金三天还没到账") -> Ticket:
    """A complaint of alice's, filed and resolved by adv1."""
    await bot.press("menu:complaint")
    await bot.press("tki:cat:funds")
    await bot.say(what)
    await bot.press("tki:done")
    await bot.press("tki:here")
    await bot.press("tki:submit")
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address("console:alice")
        [ticket, *_] = await tx.tickets.of_client(client.id)  # type: ignore[union-attr]
    await bot.say(f"/resolve {ticket.number} 已核实并处理完毕", user="adv1")
    return ticket


async def rating(bot: Harness, ticket: Ticket) -> tuple[int | None, list[str]]:
    async with bot.app.db.read() as tx:
        fresh = await tx.tickets.get(ticket.id)
        steps = [e.action for e in await tx.tickets.history(ticket.id)]
    assert fresh is not None
    return fresh.rating, steps


async def test_tickets_in_between_offers_the_rating_again_and_a_number_gives_it(
    desk: Harness,
) -> None:
    ticket = await resolved(desk)
    listing = await desk.text("/tickets")
    assert ticket.number in listing and "打分" in listing
    assert "1. 1⭐" in listing and "5. 5⭐" in listing
    [rated] = await desk.say("4")
    assert "⭐⭐⭐⭐" in rated.plain
    assert (await rating(desk, ticket))[0] == 4
    assert "打分" not in await desk.text("/tickets"), "rated: not offered again"


async def test_a_rating_names_its_ticket_or_the_only_one_waiting(desk: Harness) -> None:
    first = await resolved(desk, "出金三天还没到账")
    second = await resolved(desk, "交易软件登录不上")
    [which] = await desk.say("4分")
    assert first.number in which.plain and second.number in which.plain
    assert (await rating(desk, first))[0] is None and (await rating(desk, second))[0] is None

    [rated] = await desk.say(f"评分 {first.number} 5")
    assert "⭐⭐⭐⭐⭐" in rated.plain
    await desk.say("不用了")  # the optional comment
    [rated] = await desk.say("#2 3")
    assert "⭐⭐⭐" in rated.plain
    assert (await rating(desk, first))[0] == 5 and (await rating(desk, second))[0] == 3

    third = await resolved(desk, "手续费收多了")
    await desk.say("/tickets")
    await desk.say("随便问一句,黄金几点开盘?")  # other messages in between
    [rated] = await desk.say("2分")
    assert "⭐⭐" in rated.plain and (await rating(desk, third))[0] == 2


async def test_no_ticket_to_rate_gets_a_clear_answer(desk: Harness) -> None:
    [none] = await desk.say("评分 4")
    assert "没有需要评分的工单" in none.plain
    [unknown] = await desk.say("评分 TS-20200101-0009 4")
    assert "没有找到" in unknown.plain and "TS-20200101-0009" in unknown.plain


async def test_a_ticket_is_rated_once(desk: Harness) -> None:
    ticket = await resolved(desk)
    await desk.say("评分 4")
    await desk.say("不用了")
    [again] = await desk.say("评分 5")
    assert "已经评价" in again.plain
    [named] = await desk.say(f"评分 {ticket.number} 1")
    assert "已经评价" in named.plain
    stars, steps = await rating(desk, ticket)
    assert stars == 4 and steps.count("rated") == 1


async def test_asking_to_rate_shows_the_scores_again(desk: Harness) -> None:
    ticket = await resolved(desk)
    await desk.say("随便问一句,黄金几点开盘?")  # a newer message with other options
    [offer] = await desk.say("评分")
    assert ticket.number in offer.plain and "1. 1⭐" in offer.plain and "5. 5⭐" in offer.plain
    [rated] = await desk.say("5")
    assert "⭐⭐⭐⭐⭐" in rated.plain and (await rating(desk, ticket))[0] == 5
