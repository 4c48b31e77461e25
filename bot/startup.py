"""Start-up problems that are the operator's to fix: one line naming the setting, exit 2."""

from __future__ import annotations

import errno

from storage.database import Database
from storage.migrate import current, upgrade


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


def database_problem(exc: BaseException) -> str | None:
    """What is wrong with DATABASE_URL, if `exc` says so; None for anything else."""
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
    try:
        db = Database(url)
    except OSError as exc:
        raise StartupError("DATABASE_URL", database_problem(exc) or str(exc)) from None
    try:
        if migrate:
            await upgrade(db)
        else:
            await current(db)
    except Exception as exc:
        await db.close()
        problem = database_problem(exc)
        if problem is None:
            raise
        raise StartupError("DATABASE_URL", problem) from None
    return db
