"""Command line: run the bot, chat in the console, manage the database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Sequence

from bot import (
    channel_registry,
    cli_broadcast,
    cli_calendar,
    cli_clients,
    cli_faq,
    cli_messages,
    cli_reports,
    cli_training,
    cli_wechat,
)
from bot.app import App
from bot.channels.console import ConsoleChannel, ConsoleSender
from bot.config import ConfigError, Settings, load_settings
from bot.core.types import normalize_address
from bot.startup import StartupError, database_problem, open_database
from storage.migrate import current

EXIT_CONFIG = 2


class NothingToServe(Exception):
    """Settings and flags leave no channel to run."""


SHUTDOWN_GRACE = 15.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Customer-service bot. Settings come from the environment and .env "
        "(see .env.example).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the bot",
        description="Migrate the database and serve every configured channel: Telegram when "
        "TELEGRAM_BOT_TOKEN is set, and the local console in the foreground when this is a "
        "terminal or no platform is configured. Stop with Ctrl-C.",
    )
    run.add_argument("--no-console", action="store_true", help="never start the console")
    chat = sub.add_parser(
        "chat",
        help="chat with the bot in this terminal",
        description="Talk to the bot as a console user. Options are numbered; answer with the "
        "number or the label. /quit or Ctrl-D leaves. State persists between runs.",
    )
    chat.add_argument(
        "--user",
        default="local",
        type=_user_name,
        help="console user name: letters, digits, _ . @ - (default: local)",
    )
    chat.add_argument(
        "--as", dest="view_as", choices=["client"], help="see the client's view even as admin"
    )
    chat.add_argument("--message", "-m", help="send this one message, print the replies, exit")
    db = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply all migrations (also done at start)")
    db_sub.add_parser("current", help="show the applied and the newest revision")
    cli_faq.add_parser(sub)
    cli_messages.add_parser(sub)
    cli_clients.add_parser(sub)
    cli_broadcast.add_parser(sub)
    cli_calendar.add_parser(sub)
    cli_training.add_parser(sub)
    cli_reports.add_parser(sub)
    cli_wechat.add_parser(sub)
    return parser


def _settle_heap() -> None:
    """What start-up loaded (libraries, dictionaries, the knowledge base) lives as long as the
    process: keep it out of the collector's way. Full collections over those ~450,000 objects
    took up to 200 ms each, every few seconds under load, and held every send back."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def _user_name(value: str) -> str:
    try:
        return normalize_address(f"console:{value}").split(":", 1)[1]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 1-64 letters, digits, _ . @ or -"
        ) from None


def _logging(settings: Settings, quiet: bool) -> None:
    # In a chat the conversation is the output; only real errors may interrupt it.
    level = settings.core.log_level if not quiet else "ERROR"
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("alembic").setLevel(max(logging.getLevelName(level), logging.WARNING))


async def _chat(settings: Settings, user: str, view_as: str | None, message: str | None) -> None:
    app = App(settings)
    me = f"console:{user}"
    # Only this user's conversation: other processes' rows are theirs to send.
    app.add_sender(ConsoleSender(me=me), chats=[me])
    try:
        await app.start()
        channel = ConsoleChannel(app.inbox, app.delivery, user, view_as=view_as)
        if message is not None:
            await channel.say(message)
        else:
            print(f"console:{user} — /quit to leave", file=sys.stderr)
            await channel.say("/start")
            await channel.interact()
    finally:
        await app.stop()


async def _run(settings: Settings, no_console: bool) -> None:
    app = App(settings)
    channels = channel_registry.configured(settings, app)
    use_console = not no_console and (sys.stdin.isatty() or not channels)
    if not use_console and not channels:
        raise NothingToServe(
            "TELEGRAM_BOT_TOKEN, WECHAT_TOKEN, ONEBOT_MODE: no platform is set, and "
            "--no-console leaves nothing to serve"
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


async def _db(settings: Settings, action: str) -> None:
    db = await open_database(settings.core.database_url, migrate=action == "upgrade")
    try:
        applied, head = await current(db)
        print(f"database at revision {applied or '(none)'}; newest is {head}")
    finally:
        await db.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _logging(
        settings,
        quiet=args.command
        in ("chat", "faq", "clients", "report", "broadcast", "training", "wechat"),
    )
    try:
        if args.command == "run":
            asyncio.run(_run(settings, args.no_console))
        elif args.command == "chat":
            asyncio.run(_chat(settings, args.user, args.view_as, args.message))
        elif args.command == "faq":
            return asyncio.run(cli_faq.run(settings, args))
        elif args.command == "messages":
            return asyncio.run(cli_messages.run(settings, args))
        elif args.command == "training":
            return asyncio.run(cli_training.run(settings, args))
        elif args.command == "calendar":
            return cli_calendar.run(settings, args)
        elif args.command == "broadcast":
            return asyncio.run(cli_broadcast.run(settings, args))
        elif args.command == "clients":
            return asyncio.run(cli_clients.run(settings, args))
        elif args.command == "report":
            return asyncio.run(cli_reports.run(settings, args))
        elif args.command == "wechat":
            return asyncio.run(cli_wechat.run(settings, args))
        else:
            asyncio.run(_db(settings, args.db_command))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if type(exc).__name__ in _SETTINGS_ERRORS:
            print(f"configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        problem = database_problem(exc)
        if problem is not None:
            print(f"configuration error: DATABASE_URL: {problem}", file=sys.stderr)
            return EXIT_CONFIG
        # One readable line; the traceback only when asked for.
        logging.getLogger("bot").debug("fatal error", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


# Raised by parts that know a setting is unusable; each message names the setting.
_SETTINGS_ERRORS = {StartupError.__name__, "TokenRejected", "NothingToServe", "PortUnavailable"}
