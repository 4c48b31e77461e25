"""Broadcasts from the command line to a running bot over the fake Bot API: the rows are
written by another process, delivered with the risk line, counted, and reported."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable

import pytest

from tests.e2e.telegram.conftest import TelegramBot
from tests.support import ROOT, eventually

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

USERS = [3001, 3002, 3003, 3004]


async def cli(bot: TelegramBot, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": bot.settings.core.database_url,
        "BOT_ADMINS": "console:admin,telegram:900",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "broadcast", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_broadcast_from_the_cli_reaches_every_subscriber_once(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    for user in USERS:
        await tgbot.say("/subscribe morning", user=user)
    await tgbot.say("/subscribe news", user=3009)  # not a morning subscriber
    code, out, err = await cli(
        tgbot, "send", "--topic", "morning", "--text", "早盘:黄金关注 2650 支撑 <注意>", "--yes"
    )
    assert code == 0, err
    assert "4 recipients" in err and "风险提示" in err
    broadcast_id = int(out.strip())

    def delivered() -> bool:
        return all(any("2650" in t for t in tg.texts(u)) for u in USERS)

    await eventually(delivered, timeout=20, what="every subscriber to get the note")
    text = next(t for t in tg.texts(USERS[0]) if "2650" in t)
    assert "&lt;注意&gt;" in text and "风险提示" in text
    assert not any("2650" in t for t in tg.texts(3009))

    async def written() -> bool:  # the fake has a message before the bot records it as sent
        async with tgbot.app.db.read() as tx:
            return (await tx.broadcasts.counts(broadcast_id)).get("sent") == len(USERS)

    await eventually(written, what="the sends to be recorded")
    await tgbot.app.broadcast_tick()
    code, out, _ = await cli(tgbot, "status", str(broadcast_id), "--json")
    status = json.loads(out)
    assert (status["status"], status["recipients"], status["sent"]) == ("done", 4, 4)
    assert sum("2650" in t for u in USERS for t in tg.texts(u)) == 4, "once each"


async def test_bad_broadcasts_are_refused_with_a_reason(tgbot: TelegramBot) -> None:
    await tgbot.say("/subscribe morning", user=USERS[0])
    cases = [
        (["send", "--topic", "morning", "--text", "  ", "--yes"], "不能为空"),
        (["send", "--topic", "nosuch", "--text", "hi", "--yes"], "没有栏目 nosuch"),
        (
            ["send", "--topic", "morning", "--text", "hi", "--at", "2020-01-01T08:00", "--yes"],
            "已经过去",
        ),
        (["send", "--topic", "morning", "--text", "hi", "--at", "tomorrow", "--yes"], "not a time"),
        (["send", "--segment", "tier=vip", "--text", "hi", "--yes"], "nobody matches"),
        (["send", "--topic", "morning", "--text", "x" * 5000, "--yes"], "太长"),
        (["send", "--topic", "morning", "--text", "跟我操作稳 赚 不 赔", "--yes"], "稳赚不赔"),
        (["send", "--topic", "morning", "--text", "hi", "--as", "telegram:5"], "staff role"),
        (["send", "--topic", "morning", "--text", "hi"], "--yes"),
        (["status", "999"], "no broadcast 999"),
        (["cancel", "999"], "no broadcast 999"),
    ]
    for args, reason in cases:
        code, out, err = await cli(tgbot, *args)
        assert code == 2 and reason in err, (args, err)
        assert out == ""
    async with tgbot.app.db.read() as tx:
        assert await tx.broadcasts.recent() == []
        [blocked] = await tx.audit.recent("broadcast.blocked")
    assert blocked["actor"] == "console:admin"


async def test_a_client_who_blocked_the_bot_is_unsubscribed(tgbot: TelegramBot) -> None:
    tg = tgbot.tg
    for user in USERS[:2]:
        await tgbot.say("/subscribe morning news", user=user)
    tg.blocked_users.add(USERS[0])
    code, out, err = await cli(tgbot, "send", "--topic", "morning", "--text", "晚盘提示", "--yes")
    assert code == 0, err
    await eventually(lambda: any("晚盘提示" in t for t in tg.texts(USERS[1])), what="delivery")

    async def ended() -> bool:
        return await tgbot.subs(USERS[0]) == []

    await eventually(ended, what="the blocked client's subscriptions to end")
    async with tgbot.app.db.read() as tx:
        client = await tx.clients.by_address(f"telegram:{USERS[0]}")
        history = await tx.subscriptions.history(client.id)  # type: ignore[union-attr]
        counts = await tx.broadcasts.counts(int(out))
    assert {(e.action, e.actor) for e in history[-2:]} == {("unsubscribe", "blocked")}
    assert counts == {"sent": 1, "blocked": 1}
    assert await tgbot.subs(USERS[1]) == ["morning", "news"]


async def test_replies_given_up_on_are_reported_to_staff_once(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    bot = await make_bot(STAFF_CHAT="telegram:-100555")
    tg = bot.tg
    tg.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    await bot.say("/start", user=3005)
    await bot.app.broadcast_tick()
    await eventually(lambda: any("未能确认送达" in t for t in tg.texts(-100555)), what="report")
    await bot.app.broadcast_tick()
    await asyncio.sleep(0.3)
    assert sum("未能确认送达" in t for t in tg.texts(-100555)) == 1


async def test_a_group_that_became_a_supergroup_gets_it_at_its_new_address(
    tgbot: TelegramBot,
) -> None:
    tg = tgbot.tg
    async with tgbot.app.db.write() as tx:  # the group itself is the recipient
        group, _ = await tx.clients.get_or_create(
            "telegram:-4001", language="zh", display_name="客户群", username=None
        )
        await tx.subscriptions.subscribe(group.id, "morning", channel="telegram", actor="t")
    tg.migrated[-4001] = -1004001
    code, out, err = await cli(tgbot, "send", "--topic", "morning", "--text", "群公告", "--yes")
    assert code == 0, err
    await eventually(lambda: any("群公告" in t for t in tg.texts(-1004001)), what="the new id")

    async def counts() -> dict[str, int]:  # the outcome is written just after the send returns
        async with tgbot.app.db.read() as tx:
            return await tx.broadcasts.counts(int(out))

    await eventually(lambda: _is(counts(), {"sent": 1}), what="the row marked sent")
    async with tgbot.app.db.read() as tx:
        moved = await tx.clients.by_address("telegram:-1004001")
    assert moved is not None and moved.id == group.id


async def test_the_monthly_report_arrives_with_its_files(
    make_bot: Callable[..., Awaitable[TelegramBot]],
) -> None:
    import datetime as dt

    bot = await make_bot(STAFF_CHAT="telegram:-100555")
    tg = bot.tg
    now = bot.app.db.clock().astimezone(bot.app.rhythm.tz)
    first = (now.replace(day=1) + dt.timedelta(days=32)).replace(day=1, hour=9)
    await bot.app.fire("monthly", "-", first)
    await eventually(lambda: len(tg.documents) == 2, what="the two files")
    names = sorted(d["document"]["filename"] for d in tg.documents)
    month = f"{first - dt.timedelta(days=1):%Y-%m}"
    assert names == [f"monthly-{month}.csv", f"monthly-{month}.html"]
    csv_text = next(
        d["document"]["text"] for d in tg.documents if d["document"]["filename"].endswith(".csv")
    )
    assert csv_text.lstrip("\ufeff").startswith("section,item,value")
    assert any("客户服务月报" in t for t in tg.texts(-100555))


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected
