"""What every command group shares: its exit codes, the database it opens and closes, the
message catalog, and how it refuses (one line on stderr, exit 2)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.core.i18n import Catalog, Translator
from bot.startup import apply_policies, open_database
from storage.database import Database

EXIT_OK = 0
EXIT_FAILED = 1  # the work could not be done (a platform refused, a bad file)
EXIT_USAGE = 2  # what was asked for cannot be done as given; also configuration errors


@asynccontextmanager
async def database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Database]:
    """The configured database, migrated (unless told not to), closed on the way out."""
    db = await open_database(settings.core.database_url, migrate=migrate)
    apply_policies(db, settings)
    try:
        yield db
    finally:
        await db.close()


def translator(settings: Settings) -> Translator:
    return Translator(Catalog(), settings.core.default_language, settings.core.firm_name)


def refuse(what: str, why: object) -> int:
    """`what: why` on stderr; the exit code for a request that cannot be done as given."""
    print(f"{what}: {why}", file=sys.stderr)
    return EXIT_USAGE
