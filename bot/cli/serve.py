"""`python -m bot run`: serve every configured channel until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from typing import Any

from bot import channel_registry
from bot.app import App
from bot.channels.console import ConsoleChannel, ConsoleSender
from bot.config import Settings

NAME = "run"
QUIET = False
SHUTDOWN_GRACE = 15.0


class NothingToServe(Exception):
    """Settings and flags leave no channel to run."""


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        NAME,
        help="run the bot",
        description="Migrate the database and serve every configured channel: Telegram when "
        "TELEGRAM_BOT_TOKEN is set, and the local console in the foreground when this is a "
        "terminal or no platform is configured. Stop with Ctrl-C.",
    )
    run.add_argument("--no-console", action="store_true", help="never start the console")


def _settle_heap() -> None:
    """What start-up loaded (libraries, dictionaries, the knowledge base) lives as long as the
    process: keep it out of the collector's way. Full collections over those ~450,000 objects
    took up to 200 ms each, every few seconds under load, and held every send back."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    no_console = args.no_console
    app = App(settings)
    channels = channel_registry.configured(settings, app)
    use_console = not no_console and (sys.stdin.isatty() or not channels)
    if not use_console and not channels:
        raise NothingToServe(
            "TELEGRAM_BOT_TOKEN, WECHAT_TOKEN, WECOM_CORP_ID, ONEBOT_MODE, STAFF_CONSOLE: no "
            "platform is set and the staff console is off, and --no-console leaves nothing to serve"
        )
    if use_console:
        app.add_sender(ConsoleSender(me="console:local"), chats=["console:local"])
    channel_registry.attach(app, channels)
    try:
        await app.start()
    except BaseException:
        await app.stop()
        for channel in channels:
            await channel.close()
        raise
    await app.warm()
    _settle_heap()
    for slot, at, trading in app.rhythm.upcoming(app.db.clock(), days=2)[:2]:
        state = {True: "", False: " (no trading day: skipped)", None: " (no calendar data)"}
        print(f"next: {slot} note at {at:%Y-%m-%d %H:%M}{state[trading]}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(c.run(stop), name=c.name) for c in channels]
    if use_console:
        console = ConsoleChannel(app.inbox, app.delivery, "local")

        async def console_then_stop() -> None:
            if sys.stdin.isatty():
                await console.say("/start")  # a person at a terminal is greeted first
            await console.interact()
            stop.set()

        tasks.append(asyncio.create_task(console_then_stop(), name="console"))
    waiter = asyncio.create_task(stop.wait())
    try:
        # A channel that dies takes the process down, so a supervisor can restart it.
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        # Channels finish what they are doing (up to a grace period), then are cancelled.
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)
        for task in [waiter, *tasks]:
            task.cancel()
        await asyncio.gather(waiter, *tasks, return_exceptions=True)
        await app.stop()
        for channel in channels:
            await channel.close()
    return 0
