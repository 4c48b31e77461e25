"""Start-up problems that are the operator's to fix: one line naming the setting, exit 2."""

from __future__ import annotations

import datetime as dt
import errno
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from storage.database import Database, Pool
from storage.migrate import current, upgrade
from storage.records import Hours, SmsPolicy

if TYPE_CHECKING:
    from bot.config import Settings


class StartupError(Exception):
    """A setting that cannot be used as given; `str()` is `"<VARIABLE>: <what is wrong>"`."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = " ".join(reason.split())
        super().__init__(f"{variable}: {self.reason}")


_SQLITE = {
    "unable to open database file": "the database file cannot be opened or created "
    "(a directory, a missing folder, or no permission)",
    "file is not a database": "the file is not a SQLite database",
    "readonly database": "the database file is read-only",
    "disk i/o error": "a disk I/O error occurred",
    "database or disk is full": "the disk is full",
}


def _sqlite_path_problem(path: Path) -> str | None:
    """A plainer account than SQLite's "unable to open database file", where there is one."""
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, so {path} cannot be created"
            break
    return None


def database_problem(exc: BaseException, path: Path | None = None) -> str | None:
    """What is wrong with DATABASE_URL, if `exc` says so; None for anything else. `path` is
    the SQLite file, for a more precise answer."""
    if path is not None and (problem := _sqlite_path_problem(path)):
        return problem
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    for error in seen:
        text = str(getattr(error, "orig", None) or error).lower()
        for needle, reason in _SQLITE.items():
            if needle in text:
                return reason
        name = type(error).__name__
        if name == "InvalidPasswordError":
            return "the database server refused the user name or password"
        if name == "InvalidCatalogNameError":
            return "the database does not exist on that server"
        if isinstance(error, OSError):
            if error.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                return "the database server cannot be reached (connection refused)"
            if isinstance(error, PermissionError | NotADirectoryError | FileExistsError):
                return f"the database folder cannot be created ({error.strerror or name})"
            if error.errno == errno.ENOSPC:
                return "the disk is full"
        if isinstance(error, TimeoutError) or name == "gaierror":
            return "the database server cannot be reached"
    return None


async def open_database(url: str, *, migrate: bool = True) -> Database:
    """A database ready for use (migrated when asked); any problem with it is a StartupError
    naming DATABASE_URL, and nothing is left open."""
    path = sqlite_path(url)
    try:
        db = Database(url)
    except OSError as exc:
        raise StartupError("DATABASE_URL", database_problem(exc, path) or str(exc)) from None
    try:
        if migrate:
            await upgrade(db)
        else:
            await current(db)
    except Exception as exc:
        await db.close()
        problem = database_problem(exc, path)
        if problem is None:
            raise
        raise StartupError("DATABASE_URL", problem) from None
    return db


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser().absolute()


def db_pool(settings: Settings) -> Pool:
    """The PostgreSQL pool a serving process keeps (DATABASE_POOL_*); SQLite ignores it."""
    core = settings.core
    return Pool(
        size=core.database_pool_size,
        max_overflow=core.database_max_overflow,
        timeout=core.database_pool_timeout,
    )


def apply_policies(db: Database, settings: Settings) -> None:
    """What the settings decide about routes, for every transaction of `db` (the bot's and
    the CLI's alike): WeChat mass sends, WeCom's confirmation times, what SMS may carry."""
    wx, wc, sms = settings.wechat, settings.wecom, settings.sms
    db.group_confirm = (
        dt.timedelta(hours=wc.group_confirm_hours),
        dt.timedelta(minutes=wc.alert_confirm_minutes),
    )
    if wx.enabled:  # a service account sends to OpenID lists, a subscription one to tags
        db.mass_topics = wx.mass_topics
        db.mass_kind = "list" if wx.account_type == "service" else "tag"
    if sms.enabled:
        quiet = {"marketing": Hours(*sms.quiet)}
        if sms.alert_quiet:
            quiet["alert"] = Hours(*sms.alert_quiet)
        db.sms = SmsPolicy(
            sms.topics, sms.variable_max, sms.opt_out_text, sms.sign_name or "", quiet,
            settings.core.timezone,
        )  # fmt: skip
