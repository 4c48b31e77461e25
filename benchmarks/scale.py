"""Several processes on PostgreSQL: throughput 1 vs 3, failover after SIGKILL, and a database
restart, all with the full bot in webhook mode against the fake Bot API.

    .venv/bin/python benchmarks/scale.py [--users 500] [--per-user 10] [--quick]
        [--skip-failover] [--skip-restart] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

A fresh database is created (and dropped at the end). Each bot is `python -m bot run` in
webhook mode on a port of its own; the fake Bot API runs in a process of its own and
receives every reply. Updates go to the processes' ports round robin with at most
`--connections` requests under way (Telegram's own `max_connections` default is 40); one
that is not answered 200 is sent again (to the next port), as Telegram does.

1. Throughput: users x per-user text updates (/topics, /help: one reply each), to 1 process,
   then to 3; updates/s until every one is recorded and handled, replies/s until every
   reply reached the fake; CPU seconds of the bots, PostgreSQL, the fake and this driver.
2. Failover: 3 processes under a steady load; the process holding the Telegram delivery
   lease is killed (SIGKILL) just before a scheduled note slot falls due. Seconds without a
   deliverer, lost (acknowledged but not recorded, handled or answered), doubled replies,
   and the slot's fire: recorded once, its staff notice sent once. The killed process is
   started again, as systemd's Restart= would.
3. PostgreSQL restart (`pg_ctlcluster 15 main restart`) under the same load: the processes
   stay up, webhooks answer non-200 while it is down, nothing acknowledged is lost, and each
   process logs the database lost and back once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import ROOT, cpu_seconds
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram
from tests.support import free_port

SECRET = "bench-scale-secret"
STAFF = 999  # STAFF_CHAT: the slot's "no note" notice arrives here
TEXTS = ("/topics", "/help")
UPDATE_IDS = itertools.count(1)  # one sequence for every phase: they share the database
LOST_LINE, BACK_LINE = "database unreachable", "database is back"


# ---- processes ----------------------------------------------------------------------------


@dataclass
class Bot:
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    cpu_before: float = 0.0  # CPU of earlier incarnations (a killed process started again)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        alive = self.proc is not None and self.proc.poll() is None
        return self.cpu_before + (cpu_seconds(self.proc.pid) if alive else 0.0)  # type: ignore[union-attr]


def bot_env(
    db_url: str, api: str, port: int, workdir: Path, extra: dict[str, str]
) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    return environ | {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": db_url,
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_BASE": api,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_RATE_LIMIT": "1000",  # our code's pace, not Telegram's limits
        "TELEGRAM_CHAT_INTERVAL": "0",
        "HTTP_PORT": str(port),
        "FAQ_SEMANTIC": "off",  # the embedding model per process would be the whole story
        "LOG_LEVEL": "WARNING",  # the database lost/back lines are warnings
        "STAFF_CHAT": f"telegram:{STAFF}",
        "TIMEZONE": "UTC",
        "CALENDAR_OVERRIDES": str(workdir / "overrides.yaml"),
        **extra,
    }


def start_bot(bot: Bot, env: dict[str, str], workdir: Path) -> None:
    with bot.log.open("ab") as log:  # a file, not a pipe: a full pipe would stall the bot
        bot.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--no-console"],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip


async def wait_serving(bots: list[Bot], session: aiohttp.ClientSession) -> None:
    """Until each answers GET /healthz (after migrations and start-up)."""
    for bot in bots:
        for _ in range(600):
            if bot.proc is not None and bot.proc.poll() is not None:
                raise RuntimeError(f"bot on {bot.port} exited: {bot.log.read_text()[-3000:]}")
            try:
                async with session.get(bot.url + "/healthz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"bot on {bot.port} never served")


def stop_bot(bot: Bot, sig: int = signal.SIGTERM) -> None:
    if bot.proc is not None and bot.proc.poll() is None:
        bot.proc.send_signal(sig)
        try:
            bot.proc.wait(60)
        except subprocess.TimeoutExpired:
            bot.proc.kill()
            bot.proc.wait()


def postgres_cpu() -> float:
    """CPU of every PostgreSQL server process (other work on the machine counts too)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
                total += cpu_seconds(int(pid))
        except (OSError, ValueError, IndexError):
            pass
    return total


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- the fake Bot API ---------------------------------------------------------------------


class FakeApi:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.proc: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "benchmarks" / "_fake_api.py"),
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.base_url = (await self.proc.stdout.readline()).decode().strip()

    async def sent(self, since: int = 0) -> list[tuple[float, str]]:
        async with self.session.get(f"{self.base_url}/_sent", params={"since": since}) as r:
            return [(at, str(chat)) for at, chat in (await r.json())["sent"]]

    async def count(self) -> int:
        async with self.session.get(f"{self.base_url}/_sent", params={"since": 1 << 40}) as r:
            return int((await r.json())["count"])

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


# ---- load ---------------------------------------------------------------------------------


@dataclass
class Load:
    """Posts updates like Telegram: one not answered 200 is sent again, to the next port."""

    session: aiohttp.ClientSession
    bots: list[Bot]
    connections: int
    acked: dict[int, str] = field(default_factory=dict)  # update_id -> chat
    refused: list[float] = field(default_factory=list)  # when a post was not answered 200
    statuses: Counter[str] = field(default_factory=Counter)
    _ports: itertools.cycle[Bot] | None = None
    _builder: FakeTelegram = field(default_factory=FakeTelegram)  # builds updates only

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.connections)
        self._ports = itertools.cycle(self.bots)

    def update(self, user: int, text: str) -> dict[str, Any]:
        return {"update_id": next(UPDATE_IDS), **self._builder.user_message(user, text)}

    async def post(self, update: dict[str, Any]) -> None:
        async with self.gate:
            while True:
                bot = next(self._ports)  # type: ignore[arg-type]
                try:
                    async with self.session.post(
                        bot.url + "/telegram/webhook", json=update,
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        timeout=aiohttp.ClientTimeout(total=30),
                    ) as r:  # fmt: skip
                        await r.read()
                        self.statuses[str(r.status)] += 1
                        if r.status == 200:
                            self.acked[update["update_id"]] = str(update["message"]["chat"]["id"])
                            return
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.statuses[type(exc).__name__] += 1
                self.refused.append(time.monotonic())
                await asyncio.sleep(0.2)

    async def burst(self, updates: list[dict[str, Any]]) -> None:
        await asyncio.gather(*(self.post(u) for u in updates))

    async def paced(self, updates: list[dict[str, Any]], rate: float) -> None:
        start, tasks = time.monotonic(), []
        for i, update in enumerate(updates):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post(update)))
        await asyncio.gather(*tasks)


def updates_for(load: Load, users: range, per_user: int) -> list[dict[str, Any]]:
    return [
        load.update(user, TEXTS[(n + user) % len(TEXTS)]) for n in range(per_user) for user in users
    ]


# ---- checks -------------------------------------------------------------------------------


async def handled_count(pg: asyncpg.Connection, first_id: int) -> int:
    return int(
        await pg.fetchval(
            "select count(*) from messages where direction = 'in' and status = 'handled'"
            " and dedupe_key like 'telegram:update:%' and id >= $1",
            first_id,
        )
    )


async def wait_until(what: str, check: Any, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic()


async def audit(
    pg: asyncpg.Connection, fake: FakeApi, acked: dict[int, str], since: int
) -> tuple[int, int, int]:
    """(not recorded or not handled, unanswered, doubled) among `acked`, with the fake's
    messages from index `since` on: each update gets exactly one reply."""
    keys = [f"telegram:update:{i}" for i in acked]
    rows = await pg.fetch(
        "select dedupe_key, status from messages where dedupe_key = any($1::text[])", keys
    )
    not_handled = len(keys) - sum(1 for r in rows if r["status"] == "handled")
    want = Counter(acked.values())
    got = Counter(chat for _, chat in await fake.sent(since) if chat in want)
    unanswered = sum(max(0, n - got[chat]) for chat, n in want.items())
    doubled = sum(max(0, got[chat] - n) for chat, n in want.items())
    return not_handled, unanswered, doubled


# ---- phases -------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    session: aiohttp.ClientSession
    pg: asyncpg.Connection
    fake: FakeApi
    db_url: str
    workdir: Path
    next_user: int = 100_000
    spawned: list[Bot] = field(default_factory=list)  # stopped at the end, whatever happened

    def users(self, n: int) -> range:
        first, self.next_user = self.next_user, self.next_user + n
        return range(first, first + n)

    def spawn(self, n: int, extra: dict[str, str]) -> list[Bot]:
        bots = []
        for i in range(n):
            port = free_port()
            bot = Bot(port, self.workdir / f"bot-{len(list(self.workdir.glob('bot-*')))}-{i}.log")
            bot.log.touch()
            start_bot(
                bot,
                bot_env(self.db_url, self.fake.base_url, port, self.workdir, extra),
                self.workdir,
            )
            bots.append(bot)
        self.spawned += bots
        return bots

    async def start(self, n: int, extra: dict[str, str] | None = None) -> list[Bot]:
        first = self.spawn(1, extra or {})  # the first one migrates, alone
        await wait_serving(first, self.session)
        rest = self.spawn(n - 1, extra or {}) if n > 1 else []
        await wait_serving(rest, self.session)
        return first + rest

    async def warm(self, load: Load, users: range) -> None:
        """One message per user first: clients exist and caches are warm, as in a live bot."""
        since = await self.fake.count()
        await load.burst([load.update(u, "/topics") for u in users])
        await wait_until("warm-up replies", lambda: self._count_at_least(since + len(users)), 120)
        await asyncio.sleep(1.0)  # stragglers (none expected) land before the phase counts
        load.acked.clear()
        load.statuses.clear()

    async def _count_at_least(self, n: int) -> bool:
        return await self.fake.count() >= n

    async def throughput(self, n: int) -> tuple[float, float]:
        args = self.args
        bots = await self.start(n)
        users = self.users(args.users)
        load = Load(self.session, bots, args.connections)
        await self.warm(load, users)
        updates = updates_for(load, users, args.per_user)
        total = len(updates)
        first_id = int(await self.pg.fetchval("select coalesce(max(id), 0) + 1 from messages"))
        since = await self.fake.count()
        cpu0 = [b.cpu() for b in bots], postgres_cpu(), self.fake.cpu(), own_cpu()
        t0 = time.monotonic()
        posting = asyncio.create_task(load.burst(updates))
        t_handled = await wait_until(
            "every update handled",
            lambda: self._handled_at_least(first_id, total),
            600,
        )
        t_replied = await wait_until(
            "every reply", lambda: self._count_at_least(since + total), 600
        )
        await posting
        cpu = (
            [b.cpu() - c for b, c in zip(bots, cpu0[0], strict=True)],
            postgres_cpu() - cpu0[1],
            self.fake.cpu() - cpu0[2],
            own_cpu() - cpu0[3],
        )
        wall = t_replied - t0
        lost = await audit(self.pg, self.fake, load.acked, since)
        for bot in bots:
            stop_bot(bot)
        handled_rate, reply_rate = total / (t_handled - t0), total / wall
        print(
            f"  {n} process(es): {total} updates from {len(users)} users: "
            f"{handled_rate:6.0f} updates/s handled, {reply_rate:6.0f} replies/s received "
            f"({t_handled - t0:.1f} s / {wall:.1f} s)"
        )
        print(
            f"    CPU over {wall:.1f} s wall (2 cores = {2 * wall:.0f} CPU s): bots "
            + " + ".join(f"{c:.1f}" for c in cpu[0])
            + f" s, PostgreSQL {cpu[1]:.1f} s, fake Bot API {cpu[2]:.1f} s, "
            f"load generator {cpu[3]:.1f} s; total {sum(cpu[0]) + sum(cpu[1:]):.1f} s"
        )
        print(
            f"    busiest bot at {max(cpu[0]) / wall:.0%} of a core (the one delivering: every "
            f"reply is sent by one process per bot token); all of the above "
            f"{(sum(cpu[0]) + sum(cpu[1:])) / (2 * wall):.0%} of both cores"
        )
        print(
            f"    not handled {lost[0]}, unanswered {lost[1]}, doubled {lost[2]}; "
            f"webhook answers {dict(load.statuses)}; load average {os.getloadavg()[0]:.1f}"
        )
        return handled_rate, reply_rate

    async def _every_chat_answered(self, acked: dict[int, str], since: int) -> bool:
        """Each chat has at least as many replies as it has acknowledged updates (a total
        alone could be reached early by a doubled reply or a staff notice)."""
        want = Counter(acked.values())
        got = Counter(chat for _, chat in await self.fake.sent(since))
        return all(got[chat] >= n for chat, n in want.items())

    async def _handled_at_least(self, first_id: int, n: int) -> bool:
        return await handled_count(self.pg, first_id) >= n

    async def lease_holder(self, bots: list[Bot]) -> Bot | None:
        owner = await self.pg.fetchval("select owner from leases where name = 'delivery:telegram'")
        if owner is None:
            owner = await self.pg.fetchval(
                "select owner from leases where name like '%telegram%' limit 1"
            )
        pid = int(owner.split(":")[1]) if owner else -1
        return next((b for b in bots if b.proc is not None and b.proc.pid == pid), None)

    async def failover_and_restart(self) -> None:
        args = self.args
        now = dt.datetime.now(dt.UTC)
        fire = (now + dt.timedelta(seconds=args.fire_after + 60)).replace(second=0, microsecond=0)
        (self.workdir / "overrides.yaml").write_text(f"{fire.date().isoformat()}: trading\n")
        extra = {"MORNING_NOTE_AT": f"{fire:%H:%M}", "LEASE_SECONDS": str(args.lease)}
        bots = await self.start(3, extra)
        users = self.users(args.users)
        load = Load(self.session, bots, args.connections)
        await self.warm(load, users)
        print(f"  3 processes, LEASE_SECONDS={args.lease:g}, {args.rate:g} updates/s steady")

        # -- failover: kill the deliverer a few seconds before the slot falls due
        kill_at = time.monotonic() + (fire - dt.datetime.now(dt.UTC)).total_seconds() - 3
        seconds = max(kill_at - time.monotonic(), 5) + args.lease + 20
        since = await self.fake.count()
        staff_before = sum(1 for _, c in await self.fake.sent() if c == str(STAFF))
        updates = updates_for(load, users, max(1, round(args.rate * seconds / len(users))))
        posting = asyncio.create_task(load.paced(updates, args.rate))
        await asyncio.sleep(max(kill_at - time.monotonic(), 5))
        victim = await self.lease_holder(bots)
        assert victim is not None and victim.proc is not None, "no process holds the lease"
        victim.cpu_before = victim.cpu()
        killed = time.monotonic()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        at = dt.datetime.now(dt.UTC)
        print(f"    SIGKILL to the deliverer (port {victim.port}) at {at:%T}, slot due {fire:%T}")
        if at >= fire:
            print("    (start-up took longer than --fire-after: the slot fell due before the kill)")
        await posting
        await wait_until(
            "every acknowledged update answered",
            lambda: self._every_chat_answered(load.acked, since),
            args.lease * 4 + 120,
        )
        sent = await self.fake.sent(since)
        # Sends the killed process had already made still land just after the kill; the
        # outage is the longest pause in replies around it (a steady load leaves ~10 ms).
        times = sorted(at for at, _ in sent if at >= killed - 1.0)
        pauses = [(b - a, a) for a, b in itertools.pairwise(times)] or [(float("nan"), killed)]
        gap, paused_at = max(pauses)
        lost = await audit(self.pg, self.fake, load.acked, since)
        print(
            f"    {len(load.acked)} updates acknowledged; no reply for {gap:.1f} s (from "
            f"{paused_at - killed:+.2f} s after the kill); not handled {lost[0]}, "
            f"unanswered {lost[1]}, doubled {lost[2]}"
        )
        runs = await self.pg.fetch(
            "select job, fire_time, outcome from schedule_runs where job like 'note.morning'"
            " and fire_time >= $1",
            fire - dt.timedelta(seconds=1),
        )
        staff = sum(1 for _, c in await self.fake.sent() if c == str(STAFF)) - staff_before
        print(
            f"    slot note.morning due {fire:%H:%M:%S}: recorded {len(runs)} time(s) "
            f"({', '.join(r['outcome'] for r in runs) or 'never'}), staff notices {staff}"
        )
        start_bot(
            victim,
            bot_env(self.db_url, self.fake.base_url, victim.port, self.workdir, extra),
            self.workdir,
        )
        await wait_serving([victim], self.session)
        if not args.skip_restart:
            await self.pg_restart(bots, load, users)
        cpu = [b.cpu() for b in bots]
        for bot in bots:
            stop_bot(bot)
        print(f"    bots' CPU over the phase: {', '.join(f'{c:.1f} s' for c in cpu)}")

    async def pg_restart(self, bots: list[Bot], load: Load, users: range) -> None:
        args = self.args
        await self.pg.close()
        sizes = [b.log.stat().st_size for b in bots]
        since = await self.fake.count()
        acked_before = set(load.acked)
        load.refused.clear()
        readiness = {b.port: Counter() for b in bots}  # type: ignore[var-annotated]
        stop_watch = asyncio.Event()
        watch = asyncio.create_task(self.watch_ready(bots, readiness, stop_watch))
        seconds = 25.0
        updates = updates_for(load, users, max(1, round(args.rate * seconds / len(users))))
        posting = asyncio.create_task(load.paced(updates, args.rate))
        await asyncio.sleep(5)
        t0 = time.monotonic()
        done = await asyncio.create_subprocess_exec(
            "pg_ctlcluster", "15", "main", "restart",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await done.communicate()
        took = time.monotonic() - t0
        await posting
        self.pg = await connect(self.db_url)
        acked = {i: c for i, c in load.acked.items() if i not in acked_before}
        await wait_until(
            "every update acknowledged since the restart answered",
            lambda: self._every_chat_answered(acked, since),
            180,
        )
        stop_watch.set()
        await watch
        refused = [at for at in load.refused if at >= t0 - 1]
        window = (refused[-1] - refused[0]) if refused else 0.0
        lost = await audit(self.pg, self.fake, acked, since)
        alive = sum(1 for b in bots if b.proc is not None and b.proc.poll() is None)
        said = f", {err.decode().strip()[:200]}" if err.strip() else ""
        print(
            f"    PostgreSQL restart took {took:.1f} s (rc {done.returncode}{said}); "
            f"{alive}/{len(bots)} processes alive after it"
        )
        print(
            f"    webhooks not answered 200: {len(refused)} (over {window:.1f} s; sent again); "
            f"{len(acked)} acknowledged: not handled {lost[0]}, unanswered {lost[1]}, "
            f"doubled {lost[2]}"
        )
        for bot, size in zip(bots, sizes, strict=True):
            with bot.log.open("rb") as f:
                f.seek(size)
                lines = f.read().decode(errors="replace").splitlines()
            lost_lines = [ln for ln in lines if LOST_LINE in ln]
            back_lines = [ln for ln in lines if BACK_LINE in ln]
            tracebacks = sum(1 for ln in lines if ln.startswith("Traceback"))
            print(
                f"    port {bot.port}: {len(lines)} log lines, {len(lost_lines)} 'lost', "
                f"{len(back_lines)} 'back', {tracebacks} tracebacks; "
                f"readiness {dict(readiness[bot.port])}"
            )
            for ln in lost_lines[:1] + back_lines[:1]:
                print(f"      {ln[:160]}")

    async def watch_ready(
        self, bots: list[Bot], seen: dict[int, Counter[str]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            for bot in bots:
                try:
                    async with self.session.get(
                        bot.url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as r:
                        seen[bot.port][
                            "unknown (no /readyz)" if r.status == 404 else str(r.status)
                        ] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    seen[bot.port][type(exc).__name__] += 1
            await asyncio.sleep(0.5)


async def connect(url: str) -> asyncpg.Connection:
    for _ in range(100):
        try:
            return await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        except (OSError, asyncpg.CannotConnectNowError):
            await asyncio.sleep(0.2)
    raise RuntimeError("PostgreSQL did not come back")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--rate", type=float, default=100.0, help="updates/s while failing over")
    parser.add_argument("--lease", type=float, default=15.0, help="LEASE_SECONDS")
    parser.add_argument(
        "--fire-after",
        type=float,
        default=20.0,
        help="at least this many seconds after start-up before the slot is due",
    )
    parser.add_argument("--quick", action="store_true", help="100 users x 5, 30 updates/s")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-failover", action="store_true", help="and the restart")
    parser.add_argument("--skip-restart", action="store_true")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()  # fmt: skip
    if args.quick:
        args.users, args.per_user, args.rate = 100, 5, 30.0
    name = f"bench_scale_{os.getpid()}"
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f"create database {name}")
    db_url = (
        args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    )
    print(
        f"PostgreSQL database {name}; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} before the run (other work on the machine counts)"
    )
    try:
        workdir = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=ROOT))
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                fake = FakeApi(session)
                await fake.start()
                pg = await connect(db_url)
                run = Run(args, session, pg, fake, db_url, workdir)
                try:
                    if not args.skip_throughput:
                        print("throughput:")
                        one = await run.throughput(1)
                        three = await run.throughput(3)
                        print(
                            f"  ratio 3/1: {three[0] / one[0]:.2f} (handled), "
                            f"{three[1] / one[1]:.2f} (replies)"
                        )
                    if not args.skip_failover:
                        print("failover and PostgreSQL restart:")
                        await run.failover_and_restart()
                finally:
                    for bot in run.spawned:  # a failed run leaves no bot behind
                        stop_bot(bot, signal.SIGKILL)
                    await run.pg.close()
                    await fake.stop()
        finally:
            if args.keep:
                print(f"logs kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        await admin.close()
        admin = await connect(args.pg)
        await admin.execute(f"drop database if exists {name} with (force)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
