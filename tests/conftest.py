"""Shared fixtures: settings on a fresh (migrated) SQLite file, and an in-process bot harness."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from storage.database import Database
from storage.migrate import upgrade
from tests.harness import Harness

SettingsFactory = Callable[..., Settings]

if "faketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get(
    "FAKETIME_DONT_FAKE_MONOTONIC"
):
    # Under libfaketime 0.9.10 with real monotonic time, clock_nanosleep fails (EINVAL), so
    # time.sleep (and subprocess's wait with a timeout) would: sleep in select instead.
    time.sleep = lambda seconds: select.select([], [], [], seconds) and None


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, made once: tests copy it rather than
    migrate a new file each (what start-up would otherwise do first, every time)."""
    path = tmp_path_factory.mktemp("migrated") / "bot.db"

    async def prepare() -> None:
        db = Database(f"sqlite:///{path}")
        try:
            await upgrade(db)
        finally:
            await db.close()

    asyncio.run(prepare())
    return path


def copy_sqlite(template: Path, path: Path) -> Path:
    """`template` (with its WAL files, if any are left) copied to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for file in template.parent.glob(template.name + "*"):
        shutil.copy2(file, path.with_name(path.name + file.name[len(template.name) :]))
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A fresh, migrated SQLite file per test; the bot seeds it on start as on a new one."""
    return f"sqlite:///{copy_sqlite(migrated_sqlite, tmp_path / 'bot.db')}"


@pytest.fixture
def make_settings(db_url: str) -> SettingsFactory:
    def make(**env: str) -> Settings:
        environ = {
            "DATABASE_URL": db_url,
            "BOT_ADMINS": "console:admin,telegram:900",
            "FIRM_NAME": "国瑞投资",
            # Training the FAQ judge costs seconds of CPU per knowledge base; the tests of
            # the judge turn it on.
            "FAQ_JUDGE": "off",
            **env,
        }
        return load_settings(env_file=None, environ=environ)

    return make


@pytest.fixture
async def bot(make_settings: SettingsFactory) -> AsyncIterator[Harness]:
    harness = Harness(make_settings())
    await harness.start()
    yield harness
    await harness.stop()
