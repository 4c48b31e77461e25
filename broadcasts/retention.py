"""The daily purge: what is past its keeping period goes, a batch per transaction.

Each batch is its own short write transaction (SQLite's lock is held for one batch, never for
the whole purge); candidates are read outside it. A delete checks its rule again, so two
purges at once, or one run twice, delete each row once. The scheduled run is claimed per day
(`schedule_runs`), so of several processes on one database one runs it; what it deleted goes
into the audit log (action `retention`), which the monthly report sums."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass

from storage.database import Database

KINDS = ("erased", "messages", "audit")
JOB = "retention"


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    """The same moment `years` earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Years each kind is kept (0: forever) and rows per transaction."""

    messages_years: int = 5
    erased_years: int = 5
    audit_years: int = 0
    batch: int = 500

    def cutoffs(self, now: dt.datetime) -> dict[str, dt.datetime]:
        """Per kind purged at all: records from before this moment are past their period."""
        years = {
            "erased": self.erased_years,
            "messages": self.messages_years,
            "audit": self.audit_years,
        }
        return {kind: years_before(now, n) for kind, n in years.items() if n > 0}


async def preview(db: Database, policy: RetentionPolicy, now: dt.datetime) -> dict[str, int]:
    """What a purge now would delete, per kind (erased: clients), deleting nothing."""
    cut = policy.cutoffs(now)
    counts = dict.fromkeys(KINDS, 0)
    async with db.read() as tx:
        if "erased" in cut:
            counts["erased"] = await tx.retention.count_erased(cut["erased"])
        if "messages" in cut:
            counts["messages"] = await tx.retention.count_messages(
                cut["messages"], cut.get("erased")
            )
        if "audit" in cut:
            counts["audit"] = await tx.retention.count_audit(cut["audit"])
    return counts


async def purge(
    db: Database, policy: RetentionPolicy, now: dt.datetime, *, actor: str
) -> dict[str, int]:
    """Delete what is past its period, per kind; logged (when anything went) as `actor`."""
    cut = policy.cutoffs(now)
    counts = dict.fromkeys(KINDS, 0)
    if "erased" in cut:
        counts["erased"] = await _erased(db, cut["erased"], policy.batch)
    if "messages" in cut:
        counts["messages"] = await _rows(db, "messages", cut["messages"], policy.batch)
    if "audit" in cut:
        counts["audit"] = await _rows(db, "audit", cut["audit"], policy.batch)
    if any(counts.values()):
        async with db.write() as tx:
            await tx.audit.log(
                actor,
                JOB,
                purged=counts,
                before={kind: moment.isoformat() for kind, moment in cut.items()},
            )
    return counts


async def daily(
    db: Database, policy: RetentionPolicy, now: dt.datetime, fire: dt.datetime
) -> dict[str, int] | None:
    """The scheduled purge of the day whose fire time is `fire`; None when another process
    (or an earlier start) has it already."""
    async with db.write() as tx:
        if not await tx.rhythm.claim_fire(JOB, fire, "running"):
            return None
    counts = await purge(db, policy, now, actor="scheduler")
    async with db.write() as tx:
        await tx.rhythm.set_outcome(JOB, fire, "done", json.dumps(counts))
    return counts


async def _rows(db: Database, kind: str, cutoff: dt.datetime, batch: int) -> int:
    """Messages or audit entries, a batch per transaction, the cursor moving on by id."""
    deleted, after = 0, 0
    while True:
        async with db.read() as tx:
            if kind == "messages":
                ids = await tx.retention.messages_due(cutoff, after, batch)
            else:
                ids = await tx.retention.audit_due(cutoff, after, batch)
        if not ids:
            return deleted
        async with db.write() as tx:
            if kind == "messages":
                deleted += await tx.retention.delete_messages(ids, cutoff)
            else:
                deleted += await tx.retention.delete_audit(ids, cutoff)
        after = ids[-1]
        await asyncio.sleep(0)  # the line's own transactions go between batches


async def _erased(db: Database, cutoff: dt.datetime, batch: int) -> int:
    """Erased clients past their period: their messages a batch at a time, then the rest
    of their records and the file in one transaction each."""
    done, after = 0, 0
    while True:
        async with db.read() as tx:
            found = await tx.retention.erased_due(cutoff, after, batch)
        if not found:
            return done
        for client_id in found:
            while True:
                async with db.write() as tx:
                    n = await tx.retention.delete_client_messages(client_id, cutoff, batch)
                await asyncio.sleep(0)
                if n < batch:
                    break
            async with db.write() as tx:
                done += await tx.retention.delete_client(client_id, cutoff)
        after = found[-1]
