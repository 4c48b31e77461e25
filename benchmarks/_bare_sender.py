"""The baseline sender: aiogram sending N messages to distinct chats, 64 in flight, no
database; with RATE set, a naive sliding window keeps at most RATE starts in any second.
    TOKEN=… API=http://… COUNT=20000 [RATE=1000] python benchmarks/_bare_sender.py"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections import deque

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["API"]))
    bot = Bot(os.environ["TOKEN"], session=session)
    gate = asyncio.Semaphore(int(os.environ.get("IN_FLIGHT", "64")))
    rate = int(os.environ.get("RATE", "0"))
    starts: deque[float] = deque()
    window = asyncio.Lock()

    async def admit() -> None:
        async with window:
            while len(starts) >= rate:
                wait = starts[0] + 1.0 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                starts.popleft()
            starts.append(time.monotonic())

    async def one(i: int) -> None:
        async with gate:
            if rate:
                await admit()
            await bot.send_message(1_000_000 + i, f"早盘操作建议 #{i}", parse_mode="HTML")

    first = int(os.environ.get("FIRST_CHAT", "1000000"))
    await asyncio.gather(*(one(first - 1_000_000 + i) for i in range(int(os.environ["COUNT"]))))
    await session.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"cpu {usage.ru_utime + usage.ru_stime:.3f}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
