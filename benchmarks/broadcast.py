"""Broadcasts at this firm's scale, end to end through the CLI.

    .venv/bin/python benchmarks/broadcast.py [--quick] [--clients 100000]

One SQLite database seeded with `python -m bot clients import` (--clients subscribers), the
bot as `python -m bot run`, the fake Bot API in a process of its own (a real HTTP server that
can enforce 30/s overall and 1/s per chat with real 429 + retry_after answers, answer after a
latency, and count every delivery), broadcasts sent with `python -m bot broadcast send`:
1. at 30/s, a 10,000-recipient broadcast: achieved/allowed, 429s, lost, duplicated;
2. at 1000/s with 50 ms answers: messages/s and CPU s per 1,000 messages through the bot, a
   naive aiogram loop (one send at a time) and a bare concurrent loop (64 in flight, no
   database), with the ratios;
3. the bot's peak RSS above its idle RSS for 10,000 and --clients recipients, and the time
   from `broadcast send` to the first message out;
4. SIGKILL half-way and a restart: lost and duplicated;
5. with --mixed, instead: a mixed audience (`benchmarks/reach.py`): 10,000 clients on Telegram,
   WeChat (in and out of the window) and both — share reached, copies per client, WeChat API
   calls, time to the last route, beside the first-address routing it replaces;
6. with --sms, instead: 10,000 clients reached only by SMS (imported with a phone and
   consent) get a topic text through the fake Alibaba SMS (its own process, enforcing the
   account's QPS with real Throttling.User answers): achieved/allowed, throttled calls, lost,
   duplicated.
--quick shrinks every size so the whole run takes under two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import ROOT, cpu_seconds, peak_rss_mb, spawn, stop
from tests.fakes.telegram_api import DEFAULT_TOKEN

FIRST = 5_000_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Fake:
    """The fake Bot API process."""

    def __init__(self, **env: str) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def __aenter__(self) -> Fake:
        self.proc = await spawn(str(ROOT / "benchmarks" / "_fake_api.py"), env=self.env, cwd=ROOT)
        assert self.proc.stdout is not None
        self.url = (await self.proc.stdout.readline()).decode().strip()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        await stop(self.proc)

    def stats(self, chats: bool = False) -> dict:  # type: ignore[type-arg]
        base = self.url.rsplit("/", 1)[0] if self.url.endswith("/") else self.url
        query = "?chats=1" if chats else ""
        with urllib.request.urlopen(f"{base}/_stats{query}", timeout=30) as response:
            return json.loads(response.read())

    async def until(self, sent: int, timeout: float) -> dict:  # type: ignore[type-arg]
        deadline = time.monotonic() + timeout
        while True:
            stats = await asyncio.to_thread(self.stats)
            if stats["sent"] >= sent or time.monotonic() > deadline:
                return stats
            await asyncio.sleep(0.2)


def env_for(db: Path, fake: Fake, rate: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{db}",
        "BOT_ADMINS": "console:ops",
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_BASE": fake.url,
        "TELEGRAM_RATE_LIMIT": str(rate),
        "LOG_LEVEL": "ERROR",
    }


async def cli(env: dict[str, str], *args: str) -> str:
    proc = await spawn("-m", "bot", *args, env=env, cwd=ROOT)
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(err.decode()[-2000:])
    return out.decode().strip()


async def seed(db: Path, clients: int, sizes: dict[str, int]) -> None:
    listing = db.parent / "clients.csv"
    with listing.open("w", encoding="utf-8") as out:
        out.write("address,name,topics\n")
        for i in range(clients):
            topics = ["morning", *(k for k, n in sizes.items() if i < n)]
            out.write(f"telegram:{FIRST + i},客户{i},{';'.join(topics)}\n")
    await cli(
        {"DATABASE_URL": f"sqlite:///{db}", "BOT_ADMINS": "console:ops"},
        "clients",
        "import",
        str(listing),
    )


async def bot(env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await spawn("-m", "bot", "run", "--no-console", env=env, cwd=ROOT)
    await asyncio.sleep(3.0)  # started, migrated, polling: idle
    if proc.returncode is not None:
        raise RuntimeError((await stop(proc))[1][-2000:])
    return proc


async def broadcast(db: Path, fake: Fake, rate: int, topic: str, n: int, timeout: float) -> dict:  # type: ignore[type-arg]
    env = env_for(db, fake, rate)
    proc = await bot(env)
    idle = rss_mb(proc.pid)
    cpu0 = cpu_seconds(proc.pid)
    started = time.monotonic()
    await cli(
        env, "broadcast", "send", "--topic", topic, "--text", f"早盘操作建议({topic})", "--yes"
    )
    first = await fake.until(1, 30)
    stats = await fake.until(n, timeout)
    result = {
        "first_after": (first["first_at"] or started) - started,
        "stats": stats,
        "cpu": cpu_seconds(proc.pid) - cpu0,
        "rss_above_idle": peak_rss_mb(proc.pid) - idle,
    }
    await stop(proc)
    return result


def rate_of(stats: dict) -> float:  # type: ignore[type-arg]
    span = (stats["last_at"] or 0) - (stats["first_at"] or 0)
    return (stats["sent"] - 1) / span if span > 0 else 0.0


async def bare(count: int, in_flight: int) -> tuple[float, float]:
    async with Fake(LATENCY="0.05") as fake:
        env = {
            "TOKEN": DEFAULT_TOKEN,
            "API": fake.url,
            "COUNT": str(count),
            "IN_FLIGHT": str(in_flight),
        }
        proc = await spawn(str(ROOT / "benchmarks" / "_bare_sender.py"), env=env, cwd=ROOT)
        _, err = await proc.communicate()
        cpu = float(err.decode().strip().splitlines()[-1].split()[1])
        stats = await asyncio.to_thread(fake.stats)
    return rate_of(stats), cpu * 1000 / count


async def killed(db: Path, topic: str, n: int) -> str:
    async with Fake(LATENCY="0.05") as fake:
        env = env_for(db, fake, 1000)
        proc = await bot(env)
        out = await cli(
            env, "broadcast", "send", "--topic", topic, "--text", "非农培训邀请", "--yes"
        )
        await fake.until(n // 3, 60)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        at_kill = (await asyncio.to_thread(fake.stats))["sent"]
        proc = await bot(env)
        await fake.until(n, 60)
        await asyncio.sleep(2.0)
        await stop(proc)
        stats = await asyncio.to_thread(fake.stats, True)
        status = json.loads(await cli(env, "broadcast", "status", out, "--json"))
    got = {f"telegram:{c}" for c in stats["chats"]}
    with sqlite3.connect(db) as conn:  # each recipient's row as the bot left it
        rows = conn.execute(
            "SELECT chat, status FROM messages WHERE broadcast_id = ?", (int(out),)
        ).fetchall()
    lost = sum(1 for chat, state in rows if chat not in got and state != "ambiguous")
    arrived = sum(1 for chat, state in rows if chat in got and state == "ambiguous")
    return (
        f"4. SIGKILL after {at_kill} of {n}, then a restart: lost {lost}, duplicated "
        f"{stats['twice']}, ambiguous (counted, reported, not resent) {status['ambiguous']}, "
        f"of which the fake had received {arrived}"
    )


class FakeSms(Fake):
    """The fake Alibaba Cloud SMS process."""

    async def __aenter__(self) -> FakeSms:
        self.proc = await spawn(str(ROOT / "benchmarks" / "_fake_sms.py"), env=self.env, cwd=ROOT)
        assert self.proc.stdout is not None
        self.url = (await self.proc.stdout.readline()).decode().strip()
        return self

    def stats(self, chats: bool = False) -> dict:  # type: ignore[type-arg]
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=30) as response:
            return json.loads(response.read())


async def sms(n: int, qps: int) -> None:
    """6.: a topic text to `n` clients reached only by SMS, at the account's QPS."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from benchmarks._fake_sms import KEY_ID, SECRET, SIGN, TEMPLATES

    # Quiet hours half a day away: marketing goes now, whatever the hour of the run.
    later = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)
    quiet = f"{later:%H:%M}-{later + timedelta(minutes=1):%H:%M}"
    with tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp:
        db = Path(tmp) / "bot.db"
        listing = Path(tmp) / "clients.csv"
        with listing.open("w", encoding="utf-8") as out:
            out.write("address,name,phone,topics,sms_consent\n")
            for i in range(n):
                out.write(f"sms:139{i:08d},客户{i},139{i:08d},news,yes\n")
        base = {"DATABASE_URL": f"sqlite:///{db}", "BOT_ADMINS": "console:ops"}
        await cli(base, "clients", "import", str(listing))
        async with FakeSms(QPS=str(qps)) as fake:
            env = {
                **base, "LOG_LEVEL": "ERROR", "SMS_PROVIDER": "aliyun",
                "SMS_ACCESS_KEY_ID": KEY_ID, "SMS_ACCESS_KEY_SECRET": SECRET,
                "SMS_SIGN_NAME": SIGN, "SMS_TEMPLATE_NOTICE": TEMPLATES[0].code,
                "SMS_TEMPLATE_ALERT": TEMPLATES[1].code,
                "SMS_TEMPLATE_MARKETING": TEMPLATES[2].code, "SMS_API_BASE": fake.url,
                "SMS_TOPICS": "news", "SMS_RATE": str(qps), "SMS_QUIET_HOURS": quiet,
            }  # fmt: skip
            proc = await bot(env)
            cpu0 = cpu_seconds(proc.pid)
            text, short = "本周资讯:非农数据周五公布", "本周资讯:非农周五公布"
            await cli(env, "broadcast", "send", "--topic", "news", "--text", text,
                      "--sms", short, "--yes")  # fmt: skip
            stats = await fake.until(n, n / qps * 2 + 60)
            cpu = cpu_seconds(proc.pid) - cpu0
            await stop(proc)
    achieved = rate_of(stats)
    print(
        f"6. SMS at {qps}/s, {n} recipients: {achieved:.1f}/s, achieved/allowed "
        f"{achieved / qps:.3f}, peak {stats['peak']} in a rolling second, throttled calls "
        f"{stats['throttled']} of {stats['calls']}, lost {n - stats['distinct']}, duplicated "
        f"{stats['twice']}, {cpu * 1000 / max(stats['sent'], 1):.2f} CPU s per 1,000"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--mixed", action="store_true", help="only 5.: the mixed audience")
    parser.add_argument("--sms", action="store_true", help="only 6.: texts through SMS")
    parser.add_argument("--qps", type=int, default=200, help="the SMS account's QPS (6.)")
    args = parser.parse_args()
    if args.sms:
        await sms(2_000 if args.quick else 10_000, args.qps)
        return
    if args.mixed:  # Telegram, WeChat in and out of the window, clients on both
        from benchmarks.reach import run as mixed

        await mixed(10_000 if args.clients == 100_000 else args.clients)
        return
    big = 20_000 if args.quick else args.clients
    sizes = {"news": 600 if args.quick else 10_000, "market": 2_000 if args.quick else 10_000,
             "opportunity": 2_000 if args.quick else 5_000}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
        db = Path(tmp) / "bot.db"
        t0 = time.monotonic()
        await seed(db, big, sizes)
        print(f"seeded {big} clients with `clients import` in {time.monotonic() - t0:.1f} s")

        async with Fake(RATE="30", CHAT_INTERVAL="1") as fake:
            n = sizes["news"]
            r = await broadcast(db, fake, 30, "news", n, n / 30 * 1.5 + 30)
            s = r["stats"]
            achieved = rate_of(s)
            print(
                f"1. at 30/s, {n} recipients: {achieved:.2f}/s, achieved/allowed "
                f"{achieved / 30:.3f}, peak {s['peak']} in a rolling second, 429s {s['holds']}, "
                f"lost {n - s['distinct']}, duplicated {s['twice']}"
            )

        results = {}
        for topic in ("market", "morning"):
            n = sizes["market"] if topic == "market" else big
            async with Fake(LATENCY="0.05") as fake:
                results[topic] = (n, await broadcast(db, fake, 1000, topic, n, n / 500 + 60))
        n, r = results["morning"]
        ours = rate_of(r["stats"])
        naive, naive_cpu = await bare(100 if args.quick else 400, 1)
        concurrent, bare_cpu = await bare(min(n, 20_000), 64)
        per_1000 = r["cpu"] * 1000 / max(r["stats"]["sent"], 1)
        print(
            f"2. at 1000/s with 50 ms answers, {n} recipients: bot {ours:.0f}/s "
            f"({per_1000:.2f} CPU s per 1,000), naive aiogram loop {naive:.1f}/s "
            f"({naive_cpu:.2f} CPU s per 1,000), bare concurrent loop {concurrent:.0f}/s "
            f"({bare_cpu:.2f} CPU s per 1,000); ratio to the bare loop {ours / concurrent:.2f}, "
            f"to the naive loop {ours / naive:.0f}x; lost {n - r['stats']['distinct']}, "
            f"duplicated {r['stats']['twice']}"
        )
        parts = [
            f"{n} recipients: +{r['rss_above_idle']:.0f} MB, "
            f"first message {r['first_after']:.2f} s after send"
            for n, r in results.values()
        ]
        print("3. peak RSS above idle and time to the first message: " + "; ".join(parts))
        print(await killed(db, "opportunity", sizes["opportunity"]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(main())
