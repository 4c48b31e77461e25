"""Command line: run the bot, chat in the console, manage the database and the firm's data.

Every command group is a module of this package with the same shape: `NAME`, `QUIET` (logs
only errors: its output is the point), `add_parser(sub)` and `run(settings, args)`, which
returns the exit code (a coroutine where it needs the event loop). Loading the settings,
logging, and turning what goes wrong into one line and an exit code happen here, once."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import sys
from collections.abc import Sequence

from bot.cli import (
    broadcast,
    calendar,
    chat,
    clients,
    db,
    faq,
    messages,
    reports,
    serve,
    staff,
    training,
    wechat,
)
from bot.cli.base import EXIT_FAILED, EXIT_USAGE
from bot.config import ConfigError, Settings, load_settings
from bot.startup import StartupError, database_problem

EXIT_CONFIG = EXIT_USAGE
EXIT_INTERRUPTED = 130

# In the order `--help` lists them.
COMMANDS = (
    serve, chat, db, faq, messages, clients, broadcast, calendar, training, reports, wechat, staff,
)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Customer-service bot. Settings come from the environment and .env "
        "(see .env.example).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _logging(settings: Settings, quiet: bool) -> None:
    """LOG_LEVEL, LOG_FORMAT (text or one JSON object a line) and LOG_PERSONAL."""
    from bot.core import log_context
    from bot.ops.logs import formatter

    level = settings.core.log_level if not quiet else "ERROR"
    ops = settings.ops
    log_context.personal = ops.personal
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(ops.log_format, personal=ops.personal))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("aiogram").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("alembic").setLevel(max(logging.getLevelName(level), logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    command = next(c for c in COMMANDS if c.NAME == args.command)
    _logging(settings, quiet=command.QUIET)
    try:
        result = command.run(settings, args)
        return asyncio.run(result) if inspect.iscoroutine(result) else result
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
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
        return EXIT_FAILED


# Raised by parts that know a setting is unusable; each message names the setting.
_SETTINGS_ERRORS = {StartupError.__name__, "TokenRejected", "NothingToServe", "PortUnavailable"}
