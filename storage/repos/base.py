"""Common base for repositories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection


class Repo:
    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self.conn = conn
        self.now = clock
