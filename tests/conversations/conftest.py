"""Fixtures of the conversation tests: the desk (a staff chat, two advisors on duty)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.harness import Harness

STAFF = "console:staffroom"


@pytest.fixture
async def desk(make_settings: SettingsFactory) -> AsyncIterator[Harness]:
    harness = Harness(make_settings(STAFF_CHAT=STAFF))
    await harness.start()
    for advisor in ("adv1", "adv2"):
        await harness.say(f"/grant console:{advisor} advisor", user="admin")
        await harness.say("/duty on", user=advisor)
    yield harness
    await harness.stop()
