"""The fake Bot API in a process of its own, for benchmarks/broadcast.py.

    LATENCY=0.05 RATE=30 CHAT_INTERVAL=1 python benchmarks/_fake_api.py
prints its base URL, then serves until SIGTERM. GET /_stats gives what it saw, GET /_sent
every message sent (monotonic arrival time, chat; from `?since=N` on); with RATE set it
enforces Telegram's limits with real 429 + retry_after answers."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import serve_until_term
from tests.fakes.telegram_api import FakeTelegram, peak


class BenchFake(FakeTelegram):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, object]] = []  # (monotonic time, chat) per message

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/_stats", self._stats)
        app.router.add_get("/_sent", self._sent_list)

    async def _m_sendMessage(self, params: dict[str, object]) -> object:
        result = await super()._m_sendMessage(params)
        self.arrivals.append((time.monotonic(), params.get("chat_id")))
        return result

    async def _sent_list(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"count": len(self.arrivals), "sent": self.arrivals[since:]})

    async def _stats(self, request: web.Request) -> web.Response:
        chats = Counter(p["chat_id"] for p in self._sent)
        times = self.message_times()
        body = {
            "sent": len(self._sent),
            "distinct": len(chats),
            "twice": sum(1 for n in chats.values() if n > 1),
            "holds": len(self.holds),
            "calls_during_holds": self.calls_during_holds,
            "peak": peak(times) if times else 0,
            "first_at": times[0] if times else None,
            "last_at": times[-1] if times else None,
        }
        if request.query.get("chats"):
            body["chats"] = sorted(chats)
        return web.json_response(body)


async def main() -> None:
    gc.disable()  # its own collections would bunch its arrival stamps
    fake = BenchFake()
    fake.latency = float(os.environ.get("LATENCY", "0"))
    if os.environ.get("RATE"):
        fake.enforce(
            rate=float(os.environ["RATE"]),
            chat_interval=float(os.environ.get("CHAT_INTERVAL", "1")),
        )
    await serve_until_term(fake)


if __name__ == "__main__":
    asyncio.run(main())
