"""Shared fixtures: settings on a fresh SQLite file, and an in-process bot harness."""

from __future__ import annotations

import os
import select
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from tests.harness import Harness

SettingsFactory = Callable[..., Settings]

if "faketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get(
    "FAKETIME_DONT_FAKE_MONOTONIC"
):
    # Under libfaketime 0.9.10 with real monotonic time, clock_nanosleep fails (EINVAL), so
    # time.sleep (and subprocess's wait with a timeout) would: sleep in select instead.
    time.sleep = lambda seconds: select.select([], [], [], seconds) and None


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
