"""Inbound hot path: the full bot against a bare aiogram bot, in one run.

    .venv/bin/python benchmarks/inbound.py [--users 200] [--per-user 10] [--rounds 2]

Each bot runs in its own process against its own fake Bot API server (hosted here, in the
driver): the full bot is `python -m bot run` (long polling, a real SQLite file on disk, every
update recorded, handled and its reply delivered through the outbox); the bare bot is plain
aiogram with one handler answering, nothing stored. Every user sends `/topics`; the figure is
updates answered per second end to end (from the moment all are queued until the last reply
arrives), CPU milliseconds per update and peak RSS of the bot's process, and for the full bot
the SQL statements and transactions per update. Platform limits are set out of the way for
this run (rate 1000/s, no per-chat spacing): the bare bot has none, and this measures our
code, not Telegram's limits. Rounds alternate bare/full so machine noise shows in the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import ROOT, cpu_seconds, peak_rss_mb, snapshot, spawn, stop
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram


@dataclass
class Result:
    name: str
    rate: float
    cpu_ms: float
    rss_mb: float
    statements: float | None = None
    transactions: float | None = None

    def line(self) -> str:
        extra = ""
        if self.statements is not None:
            extra = (
                f"  {self.statements:5.2f} statements, {self.transactions:5.3f} transactions/update"
            )
        return (
            f"{self.name:5s} {self.rate:8.0f} updates/s  {self.cpu_ms:6.2f} CPU ms/update  "
            f"peak RSS {self.rss_mb:6.1f} MB{extra}"
        )


async def ready(tg: FakeTelegram, proc: asyncio.subprocess.Process) -> None:
    """Wait for the bot's first long poll."""
    for _ in range(3000):
        if tg.get_updates_offsets:
            return
        if proc.returncode is not None:
            _, err = await stop(proc)
            raise RuntimeError(f"the bot exited: {err[-2000:]}")
        await asyncio.sleep(0.01)
    raise RuntimeError("the bot never polled")


async def measure(name: str, users: int, per_user: int, workdir: Path) -> Result:
    total = users * per_user
    stats_file = workdir / f"{name}.json"
    async with FakeTelegram() as tg:
        if name == "bare":
            proc = await spawn(
                str(ROOT / "benchmarks" / "_bare_bot.py"),
                env={"TOKEN": DEFAULT_TOKEN, "API": tg.base_url},
                cwd=workdir,
            )
        else:
            env = {
                "DATABASE_URL": f"sqlite:///{workdir / 'bot.db'}",
                "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                "TELEGRAM_API_BASE": tg.base_url,
                "TELEGRAM_RATE_LIMIT": "1000",
                "TELEGRAM_CHAT_INTERVAL": "0",
                "LOG_LEVEL": "WARNING",
                "BENCH_STATS": str(stats_file),
            }
            (workdir / "bot.db").unlink(missing_ok=True)
            proc = await spawn(
                str(ROOT / "benchmarks" / "_counting_bot.py"), "run", "--no-console",
                env=env, cwd=workdir,
            )  # fmt: skip
        await ready(tg, proc)
        # One warm-up message per user: clients exist, caches are filled, like a live bot.
        for user in range(users):
            tg.push_update(tg.user_message(10_000 + user, "/start"))
        await tg.wait_for_sent(users, timeout=120)
        before = await snapshot(proc, stats_file) if name == "full" else {}
        cpu0 = cpu_seconds(proc.pid)
        sent0 = len(tg.sent())
        started = time.perf_counter()
        for _ in range(per_user):
            for user in range(users):
                tg.push_update(tg.user_message(10_000 + user, "/topics"))
        while len(tg.sent()) < sent0 + total:
            if proc.returncode is not None:
                raise RuntimeError(f"{name} bot died")
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mb(proc.pid)
        after = await snapshot(proc, stats_file) if name == "full" else {}
        await stop(proc)
    result = Result(name, total / elapsed, cpu * 1000 / total, rss)
    if after:
        result.statements = (after["statements"] - before["statements"]) / total
        result.transactions = (after["commits"] - before["commits"]) / total
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(
        f"{args.users} users x {args.per_user} messages = {args.users * args.per_user} "
        f"updates per bot and round, {args.rounds} rounds"
    )
    with tempfile.TemporaryDirectory(prefix="bench-inbound-", dir=ROOT) as tmp:
        workdir = Path(tmp)
        ratios = []
        for round_ in range(1, args.rounds + 1):
            bare = await measure("bare", args.users, args.per_user, workdir)
            full = await measure("full", args.users, args.per_user, workdir)
            print(f"round {round_}:")
            print("  " + bare.line())
            print("  " + full.line())
            ratios.append(full.rate / bare.rate)
            print(f"  ratio full/bare: {ratios[-1]:.2f}")
    print(f"ratio full/bare over {args.rounds} rounds: " + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    asyncio.run(main())
