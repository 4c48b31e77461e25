"""Helpers for benchmarks: child processes, their CPU time and peak memory, rolling windows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def spawn(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    environ.update({"PYTHONPATH": str(ROOT), **env})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=environ,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop(proc: asyncio.subprocess.Process, *, kill: bool = False) -> tuple[str, str]:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode(errors="replace"), err.decode(errors="replace")


def stats(path: Path) -> dict[str, Any]:
    """The counters file; ValueError while it is missing or half written."""
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise ValueError("not written yet") from None


async def snapshot(proc: asyncio.subprocess.Process, path: Path) -> dict[str, Any]:
    """Ask a bot started through benchmarks/_counting_bot.py for its counters."""
    path.unlink(missing_ok=True)  # noqa: ASYNC240 (a tiny local file)
    proc.send_signal(signal.SIGUSR1)
    for _ in range(500):
        try:
            return stats(path)
        except ValueError:  # half written
            pass
        await asyncio.sleep(0.01)
    raise RuntimeError("the bot wrote no counters")


def peak(times: list[float], span: float = 1.0) -> int:
    best = first = 0
    for i, at in enumerate(times):
        while times[first] <= at - span:
            first += 1
        best = max(best, i - first + 1)
    return best


async def serve_until_term(fake: Any) -> None:
    """Start a fake server, print its base URL for the driver, serve until SIGTERM."""
    await fake.start()
    print(fake.base_url, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await fake.stop()
