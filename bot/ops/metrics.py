"""GET /metrics: Prometheus text, on a registry of its own (never the library's global one,
so two apps in one process, or tests, do not collide).

Two collectors, both read when scraped: `ProcessCollector`'s counters come from this
process's `Stats` (`bot.core.stats`: plain counts the hot path bumps) and its health and
leases; `DatabaseCollector` reads what lives in the database (`storage.gauges`), each family
with its own short timeout, and a family whose query fails is left out of that scrape and
logged: the rest still answer. prometheus-client is imported only when METRICS=on.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from bot.core.delivery import Delivery
from storage import gauges
from storage.database import Database

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

QUERY_TIMEOUT = 2.0  # seconds each database family may take


class ProcessCollector(Collector):
    """This process's counts (updates, handling time, sends, 429 holds, FAQ outcomes), its
    channels' health and the delivery leases it holds."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def collect(self) -> Iterator[Metric]:
        stats = self.delivery.stats
        yield _counter(
            "bot_updates", "Inbound events recorded (redeliveries not counted)", ["channel"],
            sorted(stats.updates.items()),
        )  # fmt: skip
        handling = HistogramMetricFamily(
            "bot_handling_seconds", "Time to handle one inbound event", labels=["channel"]
        )
        for channel, histogram in sorted(stats.handling.items()):
            buckets = [(_bound(b), n) for b, n in histogram.cumulative()]
            handling.add_metric([channel], buckets, histogram.sum)
        yield handling
        yield _counter(
            "bot_sends", "Platform sends tried, by outcome (retry: tried again later)",
            ["channel", "outcome"], sorted(stats.sends.items()),
        )  # fmt: skip
        yield _counter(
            "bot_flood_holds", "429 answers that held a channel (retry_after)", ["channel"],
            sorted(stats.holds.items()),
        )  # fmt: skip
        yield _counter(
            "bot_faq_replies",
            "FAQ replies: answered (or chosen), suggested, handed_off (a person offered)",
            ["outcome"],
            [(outcome, stats.faq[outcome]) for outcome in ("answered", "suggested", "handed_off")],
        )
        up = GaugeMetricFamily(
            "bot_channel_up", "1 while a channel works, 0 while down", labels=["channel"]
        )
        for health in self.delivery.health.channels():
            up.add_metric([health.channel], 0 if health.down else 1)
        yield up
        held = GaugeMetricFamily(
            "bot_lease_held_here",
            "1 while this process holds the channel's delivery lease (sends for it)",
            labels=["channel"],
        )
        for channel, worker in sorted(self.delivery.workers.items()):
            if worker.lead:
                held.add_metric([channel], 1 if worker.leader else 0)
        yield held


def _counter(
    name: str, doc: str, labels: list[str], counts: Iterable[tuple[Any, int]]
) -> CounterMetricFamily:
    """A counter family from (label value or values, count) pairs."""
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, n in counts:
        family.add_metric(list(key) if isinstance(key, tuple) else [key], n)
    return family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


Family = Callable[[Any, Any], Awaitable[list[Metric]]]


class DatabaseCollector(Collector):
    """What lives in the database, read by `refresh` (async, before each scrape) and handed
    to the registry by `collect`."""

    def __init__(self, db: Database, *, timeout: float = QUERY_TIMEOUT) -> None:
        self.db = db
        self.timeout = timeout
        self._metrics: list[Metric] = []
        self.families: dict[str, Family] = {
            "outbox": _outbox,
            "leases": _leases,
            "tickets": _tickets,
            "wechat": _wechat,
            "sms": _sms,
        }

    async def refresh(self) -> None:
        metrics: list[Metric] = []
        now = self.db.clock()
        for name, family in self.families.items():
            try:
                async with asyncio.timeout(self.timeout), self.db.read() as tx:
                    metrics += await family(tx.conn, now)
            except Exception as exc:  # the type only: a driver's text may carry the URL
                log.warning("metrics: %s left out of this scrape (%s)", name, type(exc).__name__)
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


async def _outbox(conn: Any, now: Any) -> list[Metric]:
    depth = GaugeMetricFamily(
        "bot_outbox_messages", "Outbox rows not yet final", labels=["channel", "state"]
    )
    age = GaugeMetricFamily(
        "bot_outbox_oldest_seconds", "Age of the oldest such row", labels=["channel", "state"]
    )
    for channel, state, n, oldest in await gauges.outbox(conn, now):
        depth.add_metric([channel, state], n)
        age.add_metric([channel, state], oldest)
    return [depth, age]


async def _leases(conn: Any, now: Any) -> list[Metric]:
    holder = GaugeMetricFamily(
        "bot_lease_holder", "1 for each lease held now, by its owner", labels=["lease", "owner"]
    )
    for name, owner in await gauges.lease_holders(conn, now):
        holder.add_metric([name, owner], 1)
    return [holder]


async def _tickets(conn: Any, now: Any) -> list[Metric]:
    open_ = GaugeMetricFamily("bot_tickets_open", "Active tickets", labels=["kind"])
    breached = GaugeMetricFamily(
        "bot_tickets_breached", "Active tickets past their first-response time", labels=["kind"]
    )
    for kind, n, late in await gauges.tickets_open(conn, now):
        open_.add_metric([kind], n)
        breached.add_metric([kind], late)
    return [open_, breached]


async def _wechat(conn: Any, now: Any) -> list[Metric]:
    windows, full, day_left = await gauges.wechat(conn, now)
    return [
        GaugeMetricFamily(
            "bot_wechat_windows_open", "WeChat 48-hour windows open with messages left",
            value=windows,
        ),
        GaugeMetricFamily(
            "bot_wechat_mass_followers_at_limit",
            "Followers who had this month's 4 mass sends (service account)", value=full,
        ),
        GaugeMetricFamily(
            "bot_wechat_mass_sends_left_today",
            "A subscription account's mass send of the day: 1 left, 0 spent", value=day_left,
        ),
    ]  # fmt: skip


async def _sms(conn: Any, _now: Any) -> list[Metric]:
    parts, stopped = await gauges.sms(conn)
    return [
        CounterMetricFamily("bot_sms_parts", "SMS parts billed, as receipts told", value=parts),
        GaugeMetricFamily(
            "bot_sms_stopped", "1 while the SMS account cannot send (balance, template …)",
            value=1 if stopped else 0,
        ),
    ]  # fmt: skip


class Metrics:
    """The registry and the handler for GET /metrics."""

    def __init__(self, db: Database, delivery: Delivery, *, token: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.database = DatabaseCollector(db)
        self.registry.register(ProcessCollector(delivery))
        self.registry.register(self.database)
        self._expected = f"Bearer {token}".encode() if token else None

    def allowed(self, header: str | None) -> bool:
        if self._expected is None:
            return True
        given = (header or "").strip().encode("utf-8", "replace")
        return hmac.compare_digest(given, self._expected)

    async def render(self) -> bytes:
        await self.database.refresh()
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        from aiohttp import web

        if not self.allowed(request.headers.get("Authorization")):
            return web.Response(
                status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
            )
        return web.Response(body=await self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
