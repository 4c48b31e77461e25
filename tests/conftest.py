"""Shared fixtures: settings on a fresh SQLite file, and an in-process bot harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from tests.harness import Harness

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bot.db"


@pytest.fixture
def make_settings(db_url: str) -> SettingsFactory:
    def make(**env: str) -> Settings:
        environ = {
            "DATABASE_URL": db_url,
            "BOT_ADMINS": "console:admin,telegram:900",
            "FIRM_NAME": "国瑞投资",
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
