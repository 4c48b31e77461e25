"""The desk in the staff console: an advisor signs in, finds the ticket a client filed,
answers it and resolves it — through the same handlers as the chat desk, so the client gets
the answer on their own channel and the same rules hold (a promise of returns is refused)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from bot.core.commands import text_event
from tests.e2e.staff_console.conftest import Browser, ConsoleBot, signed_in
from tests.harness import RecordingSender
from tests.support import eventually

ALICE = "console:alice"


async def client_says(bot: ConsoleBot, text: str) -> None:
    receipt = await bot.app.inbox.receive(text_event("console", ALICE, ALICE, text))
    assert receipt is not None


async def test_an_advisor_answers_and_resolves_a_ticket_in_the_console(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]]
) -> None:
    client = RecordingSender()
    console.senders.append(client)
    await console.restart()
    b = await signed_in(console, browser, "zhangwei", "advisor")
    _, page = await b.get("/talk")
    status, page, _ = await b.post("/talk", {"text": "/duty on"}, page=page)
    assert status == 200 and "值班" in page

    await client_says(console, "/advisor")
    await client_says(console, "请问出金多久到账?<script>alert(1)</script>")
    _, desk = await b.get("/desk?view=mine")
    number = re.search(r"ZX-\d{8}-\d{4}", desk)
    assert number is not None, desk
    assert "<script>alert(1)</script>" not in desk and "&lt;script&gt;" in desk
    ticket_id = re.search(r"/desk/ticket/(\d+)", desk).group(1)  # type: ignore[union-attr]

    _, page = await b.get(f"/desk/ticket/{ticket_id}")
    assert "客户档案" in page and ALICE in page
    status, page, url = await b.post(
        f"/desk/ticket/{ticket_id}", {"action": "reply", "text": "保证月收益20%"}, page=page
    )
    assert "done=" in url and "这条回复没有发出" in page  # the compliance screen, as in a chat
    status, page, _ = await b.post(
        f"/desk/ticket/{ticket_id}",
        {"action": "reply", "text": "您好,出金一般T+1到账。"},
        page=page,
    )
    assert status == 200 and "已转达给客户" in page, page

    async def relayed() -> bool:
        return any("T+1" in s.plain for s in client.sent if s.chat == ALICE)

    await eventually(relayed, what="the answer on the client's channel")
    status, page, _ = await b.post(
        f"/desk/ticket/{ticket_id}", {"action": "resolve", "text": "已答复"}, page=page
    )
    async with console.app.db.read() as tx:
        ticket = await tx.tickets.get(int(ticket_id))
    assert ticket is not None and ticket.status == "resolved"


async def test_a_colleague_sees_who_else_has_the_ticket_open(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]]
) -> None:
    await console.add_account("zhangwei", "advisor")
    await console.add_account("li", "staff")
    await client_says(console, "/advisor")
    await client_says(console, "请问出金多久到账?")
    first, second = await browser(), await browser()
    await first.sign_in("zhangwei")
    await second.sign_in("li")
    _, page = await first.get("/desk/ticket/1")
    assert "也正在查看" not in page
    _, page = await second.get("/desk/ticket/1")
    assert "zhangwei 也正在查看这个工单" in page
    console.clock.advance(seconds=40)  # zhangwei closed the page: nobody else now
    _, page = await second.get("/desk/ticket/1")
    assert "也正在查看" not in page
