"""Running several processes: the lease length and PostgreSQL's pool are settings, checked at
load and handed to the parts that use them."""

from pathlib import Path

import pytest

from bot.app import App
from bot.config import ConfigError, load_settings
from storage.database import Database, Pool


def load(**environ: str):  # type: ignore[no-untyped-def]
    return load_settings(env_file=None, environ=environ)


def test_defaults() -> None:
    core = load().core
    assert (core.lease_seconds, core.database_pool_size) == (15.0, 5)
    assert (core.database_max_overflow, core.database_pool_timeout) == (10, 30.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEASE_SECONDS", "1"),  # lost to one slow commit
        ("LEASE_SECONDS", "3601"),
        ("LEASE_SECONDS", "nan"),
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_MAX_OVERFLOW", "-1"),
        ("DATABASE_POOL_TIMEOUT", "0"),
    ],
)
def test_absurd_values_name_the_setting(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(**{variable: value})
    assert str(info.value).startswith(f"{variable}: ")


async def test_postgresql_engine_gets_the_pool() -> None:
    db = Database(  # no connection is made until a statement runs
        "postgresql+asyncpg://nobody@127.0.0.1:1/none", pool=Pool(7, 3, 2.5)
    )
    pool = db.sync_engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (7, 3, 2.5)  # type: ignore[attr-defined]
    await db.close()


async def test_the_app_takes_lease_and_pool_from_settings(tmp_path: Path) -> None:
    settings = load(
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        LEASE_SECONDS="6",
        CALENDAR_OVERRIDES=str(tmp_path / "overrides.yaml"),
    )
    app = App(settings)
    try:
        assert app.delivery.lease == 6.0
        assert app.inbox.tenure.seconds == 6.0  # rows in and out share one tenure
    finally:
        await app.stop()
