"""A failure in a loop that tries again: a traceback when it is a bug, one quiet line when
the database is out of reach (storage says that once when lost and once when back, so an
outage does not bury the log under one traceback per loop and per second)."""

from __future__ import annotations

import logging

from storage.database import DatabaseUnavailable


def log_failure(log: logging.Logger, exc: BaseException, message: str, *args: object) -> None:
    if isinstance(exc, DatabaseUnavailable):
        log.debug(message + " (the database is unreachable)", *args)
    else:
        log.error(message, *args, exc_info=exc)
