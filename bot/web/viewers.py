"""Who has a ticket open in the staff console, so a colleague sees it before answering too
(this process's pages; each open ticket page asks again every few seconds)."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web


class Viewers:
    """Who has a ticket open (this process's pages; each refreshes every few seconds)."""

    FRESH = timedelta(seconds=30)

    def __init__(self) -> None:
        self._seen: dict[int, dict[str, datetime]] = {}

    def seen(self, ticket_id: int, name: str, now: datetime) -> list[str]:
        """Record `name` on the ticket; the others who are on it too."""
        here = {n: at for n, at in self._seen.get(ticket_id, {}).items() if now - at < self.FRESH}
        here[name] = now
        self._seen[ticket_id] = here
        if len(self._seen) > 10_000:  # forget tickets nobody looked at lately
            self._seen = {k: v for k, v in self._seen.items() if k == ticket_id}
        return sorted(n for n in here if n != name)


VIEWERS = web.AppKey("console_viewers", Viewers)


VIEWERS = web.AppKey("console_viewers", Viewers)
