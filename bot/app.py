"""Composition root: builds storage, dispatcher, delivery and channels, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings
from bot.core.delivery import Delivery, Sender
from bot.core.dispatcher import Dispatcher
from bot.core.failures import log_failure
from bot.core.health.notices import OutageNotices
from bot.core.i18n import Catalog, Translator
from bot.core.inbox import Inbox
from bot.core.middlewares import DEFAULT_MIDDLEWARES, Policy
from bot.core.timer import RealTimer, Timer
from bot.mail import Mailer
from bot.mail.outbox import MailOutbox
from bot.server import HttpServer
from bot.startup import StartupError, apply_policies, database_problem, db_pool, sqlite_path
from broadcasts import jobs, lifecycle, notes, training
from broadcasts.retention import RetentionPolicy
from broadcasts.rhythm import Rhythm
from handlers import build_router, tickets
from handlers.faq.index_cache import FaqService
from handlers.shared.desk_policy import DeskPolicy
from storage.database import Clock, Database, utc_now
from storage.migrate import upgrade
from storage.sql_inbox import SqlInbox
from storage.sql_outbox import SqlOutbox

log = logging.getLogger(__name__)


def retention_policy(settings: Settings) -> RetentionPolicy | None:
    """The RETENTION_* settings as the purge's policy; None when everything is kept."""
    r = settings.retention
    if not r.enabled:
        return None
    return RetentionPolicy(r.messages_years, r.erased_years, r.audit_years, r.batch)


class App:
    """Everything one bot process needs; channels register their senders before `start`."""

    def __init__(
        self, settings: Settings, *, clock: Clock = utc_now, timer: Timer | None = None
    ) -> None:
        self.settings = settings
        self._db_path = sqlite_path(settings.core.database_url)
        try:
            self.db = Database(settings.core.database_url, clock=clock, pool=db_pool(settings))
        except OSError as exc:
            problem = database_problem(exc, self._db_path) or str(exc)
            raise StartupError("DATABASE_URL", problem) from None
        apply_policies(self.db, settings)
        self.catalog = Catalog()
        self.http = HttpServer(settings.http.host, settings.http.port)
        self.translator = Translator(
            self.catalog, settings.core.default_language, settings.core.firm_name
        )
        self.policy = Policy(
            admins=settings.core.bot_admins,
            default_language=settings.core.default_language,
            timezone=settings.core.timezone,
        )
        self.delivery = Delivery(
            SqlOutbox(self.db),
            timer=timer,
            translator=self.translator,
            lease_seconds=settings.core.lease_seconds,
        )
        self._operations()
        self.dispatcher = Dispatcher(build_router(), DEFAULT_MIDDLEWARES)
        self.outages = OutageNotices(
            self.delivery.health,
            self.db,
            self.delivery,
            self.translator,
            after=settings.desk.health_down_after_seconds,
            staff_chat=settings.desk.staff_chat,
            admins=settings.core.bot_admins,
            tz=settings.core.tz,
        )
        self.faq = FaqService(
            semantic_on=settings.faq.faq_semantic, judge_on=settings.faq.faq_judge, db=self.db
        )
        d = settings.desk
        self.desk = DeskPolicy(
            staff_chat=d.staff_chat,
            admins=tuple(sorted(settings.core.bot_admins)),
            sla_minutes={
                ("complaint", False): d.ticket_sla_complaint_minutes,
                ("consult", False): d.ticket_sla_consult_minutes,
                ("complaint", True): d.ticket_sla_vip_complaint_minutes,
                ("consult", True): d.ticket_sla_vip_consult_minutes,
            },
            intake_minutes=d.ticket_intake_minutes,
            reopen_days=d.ticket_reopen_days,
            timezone=settings.core.timezone,
            onboarding_due=d.onboarding_due,
            coaching_times=d.coaching_times,
        )
        sched = settings.schedule
        self.rhythm = Rhythm(
            times={
                "morning": dt.time.fromisoformat(sched.morning_note_at),
                "evening": dt.time.fromisoformat(sched.evening_note_at),
            },
            remind_minutes=sched.note_reminder_minutes,
            grace_minutes=sched.schedule_grace_minutes,
            timezone=settings.core.timezone,
            overrides=sched.calendar_overrides,
            staff=(d.staff_chat,) if d.staff_chat else tuple(sorted(settings.core.bot_admins)),
            visit_days=sched.return_visit_days,
            admins=tuple(sorted(settings.core.bot_admins)),
            visit_at=dt.time.fromisoformat(sched.return_visit_at),
            sessions=tuple(
                (dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip()))
                for a, _, b in (p.partition("-") for p in sched.trading_hours.split(","))
            ),
            alert_dedupe_minutes=sched.alert_dedupe_minutes,
        )
        self.training = training.TrainingPolicy(
            invite_days=sched.training_invite_days,
            seats=sched.training_seats,
            place=sched.training_place,
            time=sched.training_time,
        )
        self.jobs = {
            job.id: job
            for job in jobs.table(
                jobs.Context(
                    t=self.translator,
                    rhythm=self.rhythm,
                    training=self.training,
                    report_at=dt.time.fromisoformat(sched.report_at),
                    report_recipients=sched.report_recipients,
                    firm_name=settings.core.firm_name,
                    onboarding_due=settings.desk.onboarding_due,
                    report_emails=sched.report_emails,
                    retention=retention_policy(settings),
                    retention_at=settings.retention.time,
                )
            )
        }
        self.scheduler: AsyncIOScheduler | None = None
        self.inbox = Inbox(
            self.db,
            self.dispatcher,
            self.delivery,
            policy=self.policy,
            translator=self.translator,
            leases=SqlInbox(self.db),
            tenure=self.delivery.tenure,  # one owner id and lease length for rows in and out
            services={
                "faq": self.faq,
                "desk": self.desk,
                "rhythm": self.rhythm,
                "training_policy": self.training,
                "health": self.delivery.health,
                "sends_for": self.delivery.leads,
            },
            prepare=self.faq.prepare,
        )
        self.delivery.on_undelivered(
            lambda tx, missed: tickets.undelivered(tx, self.translator, self.desk, missed)
        )
        self.delivery.on_blocked(lambda tx, chats: tx.subscriptions.end_for_blocked(chats))
        self._clock: asyncio.Task[None] | None = None
        self.mail = self._mail_outbox(timer)
        self._mail_stop = asyncio.Event()
        self._mail_task: asyncio.Task[None] | None = None
        self._outages: asyncio.Task[None] | None = None
        self.started = False

    def _operations(self) -> None:
        """/readyz always; /metrics with METRICS=on (prometheus-client loads only then)."""
        from bot.ops.health import Readiness

        self.readiness = Readiness(self.db, self.delivery.health)
        self.http.page("/readyz", self.readiness.handle)
        self.metrics: Any = None  # bot.ops.metrics.Metrics with METRICS=on
        ops = self.settings.ops
        if ops.metrics_on:
            from bot.ops.metrics import Metrics

            token = ops.metrics_token.get_secret_value() if ops.metrics_token else None
            self.metrics = Metrics(self.db, self.delivery, token=token)
            self.http.page("/metrics", self.metrics.handle, serve=True)

    def _mail_outbox(self, timer: Timer | None) -> MailOutbox | None:
        """The worker that sends queued e-mail (the monthly report), where SMTP is set."""
        mail = self.settings.mail
        if not mail.enabled or mail.sender is None:
            return None
        return MailOutbox(
            self.db,
            Mailer(mail),
            mail.sender,
            t=self.translator,
            staff=self.rhythm.staff,
            enqueue=lambda tx, outs: self.delivery.enqueue(tx, outs),
            notify=self.delivery.notify,
            owner=self.delivery.owner,
            timer=timer or RealTimer(),
        )

    def add_sender(
        self,
        sender: Sender,
        *,
        chats: Sequence[str] | None = None,
        concurrency: int = 64,
        lead: bool | None = None,
    ) -> None:
        """Deliver `sender.channel`'s rows from this process (only `chats`, when given;
        `lead`: only while this process holds the channel's lease, the default for a whole
        channel)."""
        self.delivery.register(sender, chats=chats, concurrency=concurrency, lead=lead)

    async def start(self) -> None:
        """Migrate, then serve at once: what a previous process left (unhandled events,
        unsent replies) is taken over in the background."""
        if self.http.needed:
            self.http.reserve()
        try:
            await upgrade(self.db)
            async with self.db.write() as tx:
                await self.faq.ensure_defaults(tx, load=self.settings.faq.faq_defaults)
        except Exception as exc:
            problem = database_problem(exc, self._db_path)
            if problem is None:
                raise
            raise StartupError("DATABASE_URL", problem) from None
        await self.outages.load()  # before any send can say a channel is back
        await self.delivery.start()
        self.inbox.start()
        self._clock = asyncio.create_task(self._desk_clock(), name="desk-clock")
        if self.mail is not None:
            self._mail_task = asyncio.create_task(self.mail.run(self._mail_stop), name="mail")
        self._outages = asyncio.create_task(self.outages.run(), name="outage-notices")
        await self._write(
            lambda tx: notes.catch_up(tx, self.translator, self.rhythm, self.db.clock())
        )
        self.scheduler = self._schedule()
        self.started = True
        if self.http.needed:  # last: requests may come in as soon as it listens
            await self.http.start()

    def _schedule(self) -> AsyncIOScheduler:
        """APScheduler decides when (the table in `broadcasts.jobs` says what); each fire
        records itself, so no process repeats one."""
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it narrates every add
        scheduler = AsyncIOScheduler(timezone=self.rhythm.tz)
        grace = max(self.rhythm.grace_minutes * 60, 1)
        for job in self.jobs.values():
            scheduler.add_job(
                self.fire,
                CronTrigger(**job.cron, timezone=self.rhythm.tz),
                args=[job.kind, job.slot],
                id=job.id,
                misfire_grace_time=grace,
                coalesce=True,
            )
        scheduler.start()
        return scheduler

    async def warm(self) -> None:
        """Build what the first question would otherwise wait for (the FAQ index: most of a
        second). For a long-running process; tests and one-off commands skip it."""
        async with self.db.read() as tx:
            await self.faq.index(tx)

    async def fire(self, kind: str, slot: str, now: dt.datetime | None = None) -> int:
        """One scheduled fire (also called by tests with their own `now`)."""
        now = now or self.db.clock()
        job = self.jobs[jobs.job_id(kind, slot)]
        if job.batched:  # its own transactions, nothing to send
            await job.run(self.db, now)
            return 0
        written = await self._write(lambda tx: job.run(tx, now))
        if self.mail is not None:  # the job may have queued an e-mail
            self.mail.wake()
        return written

    async def _write(self, job: Any) -> int:
        """Run a job's transaction and queue the notices it returns; the senders are woken
        when there is something new for them (those notices, or rows the job wrote itself:
        `TxState.unannounced`)."""
        async with self.db.write() as tx:
            ids = await self.delivery.enqueue(tx, await job(tx))
        if tx.state.unannounced:
            self.delivery.notify()
        return len(ids)

    async def desk_tick(self) -> int:
        """SLA breaches announced, stale resolved tickets closed; returns notices written."""
        return await self._write(
            lambda tx: tickets.tick(tx, self.desk, self.translator, self.db.clock())
        )

    async def broadcast_tick(self) -> int:
        """Scheduled broadcasts started, finished ones reported to their authors."""

        async def job(tx: Any) -> list[Any]:
            _, outs = await lifecycle.tick(tx, self.translator, self.db.clock())
            return outs + await lifecycle.undelivered_report(
                tx, self.translator, list(self.rhythm.staff)
            )

        return await self._write(job)

    async def _desk_clock(self, every: float = 30.0) -> None:
        """Every `every` seconds (5 for broadcasts: a scheduled one starts on time)."""
        rounds = 0
        while True:
            await asyncio.sleep(every / 6)
            rounds += 1
            for tick, due in ((self.broadcast_tick, True), (self.desk_tick, rounds % 6 == 0)):
                if not due:
                    continue
                try:
                    await tick()
                except Exception as exc:
                    log_failure(log, exc, "%s failed; trying again soon", tick.__name__)

    async def stop(self, grace: float = 10.0) -> None:
        """Finish what is under way (up to `grace`), hand back the rest, close the database."""
        try:
            await self.http.stop()  # first: nothing new comes in while the rest winds down
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=False)
                self.scheduler = None
            if self._mail_task is not None:  # a send under way ends; its row's lease expires
                self._mail_stop.set()
            for task in (self._clock, self._mail_task, self._outages):
                await _cancelled(task)
            self._clock = self._mail_task = self._outages = None
            if self.started:
                self.started = False
                await self.inbox.stop(grace)
                await self.delivery.stop(grace)
        finally:
            await self.faq.close()
            await self.db.close()


async def _cancelled(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
