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


def _upgrade(sync: Any, revision: str) -> None:
    if sync.dialect.name == "postgresql":  # two starters at once: the second waits here
        sync.exec_driver_sql("SELECT pg_advisory_xact_lock(7305118)")
    command.upgrade(alembic_config(sync), revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; holds the write lock so two starters cannot race."""
    if revision == "head":
        applied, head = await current(db)
        if applied == head:
            return
    await db.run_sync(lambda sync: _upgrade(sync, revision), write=True)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def applied_revision(connection: Any) -> str | None:
    """The revision applied in the database, read on a (sync) connection."""
    return MigrationContext.configure(connection).get_current_revision()


async def current(db: Database) -> tuple[str | None, str]:
    """(revision applied in the database, newest revision in the code)."""
    rev = await db.run_sync(applied_revision)
    return rev, head_revision()


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of this code's migrations (a newer one is not)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic's ResolutionError, CommandError: unknown
        return False
