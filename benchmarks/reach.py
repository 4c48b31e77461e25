"""Reaching a mixed audience once each: Telegram, WeChat (inside and outside the window) and
clients on both, through the real App, WeChat channel and mass sender against the fake
WeChat API (real HTTP), Telegram sends recorded.

    .venv/bin/python benchmarks/reach.py [--clients 10000]

The audience: 40% Telegram only, 40% WeChat only (a quarter of them wrote within 48 hours),
20% on both, every one subscribed to the morning note. Prints, for the bot and for the
routing it replaces (each client's first address, WeChat only inside the window) side by
side: the share of subscribed clients reached, copies per client (min / max), WeChat API
calls by kind, and the time from the note's creation to the last route started.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import channel_registry
from bot.app import App
from bot.config import load_settings
from broadcasts import lifecycle
from storage.repos.client_import import ClientRow
from tests.fakes.wechat_api import FakeWechatApi, Interactions
from tests.harness import RecordingSender
from tests.support import free_port

APPID, SECRET, TOKEN = "wx1111222233334444", "0123456789abcdef0123456789abcdef", "tok3nWX"


def audience(n: int) -> list[tuple[str | None, str | None, bool]]:
    """(telegram address, wechat address, inside the window) per client."""
    out = []
    for i in range(n):
        kind = i % 10  # 0-3 Telegram, 4-7 WeChat, 8-9 both
        tg = f"telegram:{100000 + i}" if kind < 4 or kind >= 8 else None
        wx = f"wechat:o{i:027d}" if kind >= 4 else None
        out.append((tg, wx, wx is not None and i % 4 == 0))
    return out


async def seed(
    app: App, api: FakeWechatApi, people: list[tuple[str | None, str | None, bool]]
) -> None:
    rows = [ClientRow(address=tg or wx or "", topics=("morning",)) for tg, wx, _ in people]
    async with app.db.write() as tx:
        for start in range(0, len(rows), 1000):
            await tx.client_lists.import_page(
                rows[start : start + 1000], actor="bench", default_language="zh"
            )
        for tg, wx, inside in people:
            if tg and wx:
                client = await tx.clients.by_address(tg)
                assert client is not None
                await tx.links.attach(client.id, wx)
            if wx:
                openid = wx.split(":", 1)[1]
                api.interactions.add_follower(openid)
                if inside:
                    api.interactions.message(openid)
                    await tx.wechat.open_window(wx, timedelta(hours=48), 5)


def old_routing_reach(people: list[tuple[str | None, str | None, bool]]) -> tuple[int, int]:
    """The routing this replaces: the first address (alphabetically) of each client; WeChat
    reachable only inside the window. (reached, copies at most per client)"""
    reached = 0
    for tg, wx, inside in people:
        first = min(a for a in (tg, wx) if a)
        reached += first.startswith("telegram:") or inside
    return reached, 1


@dataclass(frozen=True)
class Figures:
    clients: int
    plan: dict[str, int]
    reached: int
    old_reached: int
    copies: list[int]  # per client
    calls: dict[str, int]  # WeChat API calls by kind
    took: float  # seconds from the note's creation to the last route started


async def run(n: int) -> None:
    report(await measure(n))


async def measure(n: int) -> Figures:
    people = audience(n)
    api = FakeWechatApi(APPID, SECRET, interactions=Interactions())
    async with api:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(env_file=None, environ=dict(
                DATABASE_URL=f"sqlite:///{tmp}/bot.db", WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APPID,
                WECHAT_APP_SECRET=SECRET, WECHAT_API_BASE=api.base_url, HTTP_HOST="127.0.0.1",
                HTTP_PORT=str(free_port()), FAQ_SEMANTIC="off",
            ))  # fmt: skip
            app = App(settings)
            channels = channel_registry.configured(settings, app)
            channel_registry.attach(app, channels)
            telegram = RecordingSender(channel="telegram")
            app.add_sender(telegram)
            await app.start()
            stop = asyncio.Event()
            tasks = [asyncio.create_task(c.run(stop)) for c in channels]
            try:
                await seed(app, api, people)
                started = time.perf_counter()
                async with app.db.write() as tx:
                    plan = await lifecycle.plan(
                        tx, app.translator, author="console:local", text="早盘提示:黄金震荡。",
                        topics=["morning"],
                    )  # fmt: skip
                    created = await lifecycle.create(
                        tx, plan, author="console:local", send_at=tx.now()
                    )
                app.delivery.notify()
                last_started = await settle(app, api, created.id, telegram, started)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                await app.stop()
                for channel in channels:
                    await channel.close()
    return figures(people, plan.reach, telegram, api, last_started)


async def settle(
    app: App, api: FakeWechatApi, broadcast_id: int, telegram: RecordingSender, started: float
) -> float:
    """Seconds until every row is final and every mass send made."""
    while True:
        async with app.db.read() as tx:
            counts = await tx.broadcasts.counts(broadcast_id)
            jobs = await tx.wechat_mass.of_broadcast(broadcast_id)
        open_rows = sum(counts.get(s, 0) for s in ("pending", "queued", "sending"))
        if not open_rows and all(j.status not in ("pending", "sending") for j in jobs):
            return time.perf_counter() - started
        await asyncio.sleep(0.05)


def figures(
    people: list[tuple[str | None, str | None, bool]], reach: dict[str, int],
    telegram: RecordingSender, api: FakeWechatApi, took: float,
) -> Figures:  # fmt: skip
    owner: dict[str, int] = {}
    for i, (tg, wx, _) in enumerate(people):
        for address in (tg, wx):
            if address:
                owner[address] = i
    copies: Counter[int] = Counter()
    for sent in telegram.sent:
        copies[owner[sent.chat]] += 1
    for sent in api.custom_sends:
        copies[owner[f"wechat:{sent.openid}"]] += 1
    for mass in api.mass_sends:
        for openid in mass.sent:
            copies[owner[f"wechat:{openid}"]] += 1
    n = len(people)
    reached = sum(1 for i in range(n) if copies[i])
    old, _ = old_routing_reach(people)
    calls = Counter(c.path.rsplit("/", 2)[-2] + "/" + c.path.rsplit("/", 1)[-1] for c in api.calls)
    per_client = [copies[i] for i in range(n)]
    return Figures(n, reach, reached, old, per_client, dict(calls), took)


def report(f: Figures) -> None:
    n = f.clients
    print(f"{n} subscribed clients: 40% Telegram, 40% WeChat (a quarter inside the window), "
          "20% both")  # fmt: skip
    print(f"  plan: {f.plan}")
    print(f"  reached: bot {f.reached / n:.4f} of all (every client has a usable route), "
          f"first-address routing {f.old_reached / n:.4f}; "
          f"ratio {f.reached / max(f.old_reached, 1):.2f}")  # fmt: skip
    print(f"  copies per client: min {min(f.copies)}, max {max(f.copies)}")
    print(f"  WeChat API calls: {f.calls}")
    print(f"  from the note's creation to the last route started and every row final: "
          f"{f.took:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.clients))


if __name__ == "__main__":
    main()
