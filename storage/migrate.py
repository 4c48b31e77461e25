"""Alembic, driven from code: `python -m bot db upgrade` and start-up both call `upgrade`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; holds the write lock so two starters cannot race."""
    async with db.engine.connect() as raw:
        conn = await raw.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def current(db: Database) -> tuple[str | None, str]:
    """(revision applied in the database, newest revision in the code)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head() or ""
    async with db.engine.connect() as conn:
        rev = await conn.run_sync(lambda s: MigrationContext.configure(s).get_current_revision())
    return rev, head
