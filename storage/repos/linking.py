"""One client, several addresses: binding codes a client sends from a second channel, staff
links and unlinks, and merging two files that turn out to be one person."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import (
    bind_attempts,
    bind_codes,
    client_notes,
    client_tags,
    clients,
    faq_feedback,
    faq_learning,
    faq_unanswered,
    identities,
    messages,
    onboarding_steps,
    return_visits,
    subscription_events,
    subscriptions,
    tickets,
    training_rsvps,
)

CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5  # wrong codes from one address before binding is locked there
LOCK_SPAN = timedelta(hours=1)
# Tables whose rows simply follow the client; those keyed by (client, something) are merged
# key by key (the surviving file's row wins where both have one).
MOVED = (identities, subscription_events, client_notes, tickets, messages, faq_feedback,
         faq_unanswered, faq_learning)  # fmt: skip
KEYED = ((subscriptions, "topic_key"), (client_tags, "tag"), (return_visits, "wave"),
         (training_rsvps, "day"), (onboarding_steps, "step"))  # fmt: skip
NOTED = ("tier", "advisor", "phone")  # a difference here is noted on the surviving file
# Taken from the other file only where missing.
FILLED = ("display_name", "preferred", "trading_code", "email")


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What a code sent from `address` did: "linked" (now one client), "same" (the address
    was that client's already), "wrong" (no such code; `left` tries before the lock) or
    "locked" (until `until`)."""

    status: str
    client_id: int | None = None
    merged: Merged | None = None
    left: int = 0
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Merged:
    """Two files made one: `kept` survives, `gone` is no more; `conflicts` names the fields
    where the two differed ({field: (kept's value, gone's value)}), noted on the file."""

    kept: int
    gone: int
    addresses: list[str] = field(default_factory=list)
    conflicts: dict[str, tuple[str, str]] = field(default_factory=dict)


class LinkRepo(Repo):
    async def issue(self, client_id: int, address: str) -> str:
        """A fresh 6-digit code for `client_id`, valid CODE_TTL; an earlier one stops working.
        Unique among live codes, so a code names one client only."""
        now = self.now()
        await self.conn.execute(
            bind_codes.delete().where(
                sa.or_(bind_codes.c.client_id == client_id, bind_codes.c.expires_at <= now)
            )
        )
        while True:
            code = f"{secrets.randbelow(10**6):06d}"
            row = {"code": code, "client_id": client_id, "address": address,
                   "expires_at": now + CODE_TTL, "created_at": now}  # fmt: skip
            if await self.insert_new(bind_codes.insert().values(**row)):
                return code

    async def redeem(self, code: str, address: str) -> Redeemed:
        """Join `address` (and the file it leads to) to the client who was given `code`.
        Single use; a wrong code counts against `address`, and the 5th locks it an hour."""
        now = self.now()
        a = bind_attempts
        tries = (
            await self.conn.execute(
                sa.select(a.c.failures, a.c.locked_until).where(a.c.address == address)
            )
        ).first()
        if tries is not None and tries.locked_until is not None and tries.locked_until > now:
            return Redeemed("locked", until=tries.locked_until)
        taken = (
            await self.conn.execute(
                bind_codes.delete()
                .where(bind_codes.c.code == code, bind_codes.c.expires_at > now)
                .returning(bind_codes.c.client_id)
            )
        ).first()
        if taken is None:
            failures = tries.failures if tries is not None and tries.locked_until is None else 0
            failures += 1
            if failures >= MAX_FAILURES:
                until = now + LOCK_SPAN
                await self.upsert(a, {"address": address}, {"failures": 0, "locked_until": until})
                return Redeemed("locked", until=until)
            await self.upsert(a, {"address": address}, {"failures": failures, "locked_until": None})
            return Redeemed("wrong", left=MAX_FAILURES - failures)
        if tries is not None:
            await self.conn.execute(a.delete().where(a.c.address == address))
        owner = int(taken.client_id)
        mine = await self._client_of(address)
        if mine == owner:
            return Redeemed("same", client_id=owner)
        if mine is None:
            await self.attach(owner, address)
            return Redeemed("linked", client_id=owner)
        merged = await self.merge(owner, mine, by=address)
        return Redeemed("linked", client_id=merged.kept, merged=merged)

    async def attach(self, client_id: int, address: str, username: str | None = None) -> str:
        """Give `client_id` the new `address`: "linked", "same" (theirs already) or "taken"
        (another client's: never moved in silence; merge the two files instead)."""
        current = await self._client_of(address)
        if current is not None:
            return "same" if current == client_id else "taken"
        row = {"address": address, "client_id": client_id, "channel": address.split(":", 1)[0],
               "username": username, "created_at": self.now()}  # fmt: skip
        if not await self.insert_new(identities.insert().values(**row)):
            return "same" if await self._client_of(address) == client_id else "taken"
        self.state.touched.add(client_id)
        return "linked"

    async def detach(self, client_id: int, address: str) -> str:
        """Take `address` off `client_id`'s file: "unlinked", "not_theirs", or "last" (a file
        keeps at least one address; erasure is for removing a client)."""
        if await self._client_of(address) != client_id:
            return "not_theirs"
        count = (
            await self.conn.execute(
                sa.select(sa.func.count()).where(identities.c.client_id == client_id)
            )
        ).scalar()
        if (count or 0) <= 1:
            return "last"
        await self.conn.execute(identities.delete().where(identities.c.address == address))
        await self.conn.execute(
            clients.update()
            .where(clients.c.id == client_id, clients.c.preferred == address)
            .values(preferred=None)
        )
        self.state.touched.add(client_id)
        return "unlinked"

    async def merge(self, one: int, other: int, *, by: str) -> Merged:
        """Make two files one. The older file survives and its tier, advisor and other fields
        win where both are set and differ (the other's value is noted on the file); where only
        the newer one has a value, it is kept. Everything else moves to the survivor."""
        rows = {
            r.id: r
            for r in await self.conn.execute(
                sa.select(clients).where(clients.c.id.in_([one, other]))
            )
        }
        if len(rows) != 2 or one == other:
            raise LookupError(other if one in rows else one)
        kept, gone = sorted(rows.values(), key=lambda r: (r.created_at, r.id))
        addresses = [
            r.address
            for r in await self.conn.execute(
                sa.select(identities.c.address).where(identities.c.client_id == gone.id)
            )
        ]
        for table, key in KEYED:
            theirs = sa.select(table.c[key]).where(table.c.client_id == kept.id)
            await self.conn.execute(
                table.update()
                .where(table.c.client_id == gone.id, table.c[key].not_in(theirs))
                .values(client_id=kept.id)
            )
            await self.conn.execute(table.delete().where(table.c.client_id == gone.id))
        for table in MOVED:
            await self.conn.execute(
                table.update().where(table.c.client_id == gone.id).values(client_id=kept.id)
            )
        await self.conn.execute(bind_codes.delete().where(bind_codes.c.client_id == gone.id))
        conflicts: dict[str, tuple[str, str]] = {}
        fill: dict[str, object] = {}
        for name in (*NOTED, *FILLED):
            mine, theirs = kept._mapping[name], gone._mapping[name]
            if theirs in (None, "", "standard") or mine == theirs:
                continue
            if mine in (None, "", "standard"):  # "standard" is the tier nobody chose
                fill[name] = theirs
            elif name in NOTED:
                conflicts[name] = (str(mine), str(theirs))
        now = self.now()
        await self.conn.execute(clients.delete().where(clients.c.id == gone.id))
        await self.conn.execute(
            clients.update().where(clients.c.id == kept.id).values(updated_at=now, **fill)
        )
        if conflicts:
            text = "; ".join(f"{k}: {a} / {b}" for k, (a, b) in conflicts.items())
            note = f"merged with file #{gone.id}; kept / other: {text}"
            await self.conn.execute(
                client_notes.insert().values(client_id=kept.id, author=by, at=now, text=note)
            )
        self.state.touched.update((kept.id, gone.id))
        return Merged(kept.id, gone.id, addresses, conflicts)

    async def _client_of(self, address: str) -> int | None:
        query = sa.select(identities.c.client_id).where(identities.c.address == address)
        value = (await self.conn.execute(query)).scalar()
        return int(value) if value is not None else None
