"""Recording inbound events before anything acknowledges them, in batches.

A long poll's updates go in one transaction; concurrent webhook calls share a commit (group
commit). Text that cannot be stored is cleaned first; an event that still fails to be
recorded `RECORD_TRIES` times is kept in a form that can always be stored, marked failed,
so it stops blocking the line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.core.batching import Batcher
from bot.core.owner import Tenure
from bot.core.sanitize import clean, clean_text
from bot.core.stats import Stats
from bot.core.types import Inbound
from storage.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)

RECORD_TRIES = 3  # failures to record one update before it is kept in quarantine form


class Recorder:
    def __init__(self, db: Database, tenure: Tenure, stats: Stats | None = None) -> None:
        self.db = db
        self.tenure = tenure  # whose owner id and lease length the rows carry
        self.stats = stats if stats is not None else Stats()  # events recorded, by channel
        self._batcher: Batcher[dict[str, Any], int | None] = Batcher(self._write)
        self._failures: OrderedDict[str, int] = OrderedDict()

    async def drained(self) -> None:
        await self._batcher.drained()

    def row(self, event: Inbound, raw: dict[str, Any] | None) -> dict[str, Any]:
        """The archive row for an event; text that cannot be stored is made storable."""
        for name in ("text", "display_name", "username", "callback_data"):
            value = getattr(event, name)
            if isinstance(value, str):
                setattr(event, name, clean_text(value))
        event.args = [clean_text(a) for a in event.args]
        payload = event.payload()
        if raw is not None:
            payload["raw"] = clean(raw)
        return {
            "channel": event.channel,
            "chat": event.chat,
            "sender": event.sender,
            "kind": event.kind,
            "text": event.callback_data if event.kind == "callback" else event.text,
            "payload": payload,
            "dedupe_key": event.dedupe_key,
            "platform_id": event.platform_id,
            "attempts": 0,  # handling attempts counted on recovery (see Inbox.recover)
            "lease_owner": self.tenure.owner,
            "lease_until": self.db.clock() + timedelta(seconds=self.tenure.seconds),
        }

    async def _write(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        async with self.db.write() as tx:
            return await tx.messages.record_many(rows)

    async def record(self, event: Inbound, raw: dict[str, Any] | None = None) -> int | None:
        """Archive one event, sharing a commit with concurrent callers. Returns its id, or
        None when there is nothing to handle (a redelivery, or an update kept in quarantine
        after failing to be recorded `RECORD_TRIES` times). Raises while it may still be
        recorded later: the caller must not acknowledge it then."""
        [result] = await self.record_many([(event, raw)])
        if isinstance(result, Exception):
            raise result
        return result

    async def record_many(
        self, items: Sequence[tuple[Inbound, dict[str, Any] | None]]
    ) -> list[int | Exception | None]:
        """Archive events in one transaction (a failing one is retried alone); per event its
        id, None (nothing to handle), or the exception that kept it from being recorded."""
        rows = [self.row(event, raw) for event, raw in items]
        futures = [asyncio.ensure_future(self._batcher.submit(row)) for row in rows]
        await asyncio.wait(futures)
        results: list[int | Exception | None] = []
        for (event, raw), future in zip(items, futures, strict=True):
            error = future.exception()
            if error is None:
                result = future.result()
                if result is not None:  # not a redelivery
                    self.stats.updates[event.channel] += 1
                results.append(result)
                continue
            results.append(await self._record_failed(event, raw, error))  # type: ignore[arg-type]
        return results

    async def _record_failed(
        self, event: Inbound, raw: dict[str, Any] | None, error: Exception
    ) -> int | Exception | None:
        """Count the failure; the `RECORD_TRIES`th time keep the update in a form that can
        always be stored (ASCII JSON), marked failed, so it stops blocking the line."""
        key = event.dedupe_key or ""
        if isinstance(error, DatabaseUnavailable):  # not the update's fault: not counted
            return error
        failures = self._failures.pop(key, 0) + 1
        log.error(
            "could not record %s (%d/%d): %r", key or event.chat, failures, RECORD_TRIES, error
        )
        if failures < RECORD_TRIES or not key:
            self._failures[key] = failures
            while len(self._failures) > 1000:
                self._failures.popitem(last=False)
            return error
        quarantined = {
            "channel": event.channel,
            "chat": event.chat,
            "sender": event.sender,
            "kind": "other",
            "text": None,
            "payload": {"raw_json": json.dumps(raw, ensure_ascii=True, default=str)[:100_000]},
            "dedupe_key": key,
            "status": "failed",
            "error": f"could not be recorded: {error!r}"[:1000],
        }
        try:
            async with self.db.write() as tx:
                await tx.messages.record_many([quarantined])
        except Exception as again:
            log.error("could not quarantine %s either: %r", key, again)
            return again
        log.error("update %s quarantined after %d failures; see `messages failed`", key, failures)
        return None
