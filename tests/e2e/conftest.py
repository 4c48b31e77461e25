"""Fixtures every end-to-end folder shares: a database App.start has migrated once, copied
per test (`db_url` here overrides the plain fresh file of tests/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_settings

TEMPLATE_ENV = {"BOT_ADMINS": "console:admin,telegram:900", "FIRM_NAME": "国瑞投资"}


def _scratch_dir(fallback: Path) -> Path:
    """A new directory on tmpfs when there is one: the database runs with synchronous=FULL,
    and fsyncs on a busy disk made these tests slow and flaky."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else fallback
    return Path(tempfile.mkdtemp(prefix="tgtest-", dir=base))


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database App.start has migrated and seeded once; each test gets its own copy
    (preparing one from scratch costs most of a second)."""
    directory = _scratch_dir(tmp_path_factory.mktemp("telegram-template"))
    path = directory / "bot.db"

    async def prepare() -> None:
        environ = {"DATABASE_URL": f"sqlite:///{path}", **TEMPLATE_ENV}
        app = App(load_settings(env_file=None, environ=environ))
        await app.start()
        await app.stop()

    asyncio.run(prepare())
    try:
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def db_url(tmp_path: Path, migrated_db: Path) -> Iterator[str]:
    """A fresh SQLite file per test: a copy of the prepared database."""
    directory = _scratch_dir(tmp_path)
    for file in migrated_db.parent.glob(migrated_db.name + "*"):
        shutil.copy2(file, directory / file.name)
    try:
        yield f"sqlite:///{directory / migrated_db.name}"
    finally:
        shutil.rmtree(directory, ignore_errors=True)
