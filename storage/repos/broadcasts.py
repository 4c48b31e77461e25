"""Broadcasts: the message, its audience, and its delivery rows written set-based from the
subscriptions (one INSERT … SELECT per language and part, never a loop over recipients)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.records import aware
from storage.repos.base import Repo
from storage.repos.routes import (
    DAY,
    DAY_USED,
    DIRECT,
    FULL,
    GONE,
    GROUP,
    GROUP_DAY,
    LIST,
    MASS,
    NO_CONSENT,
    OPTED_OUT,
    OUTSIDE,
    SMS,
    SMS_NONE,
    TAG,
    WINDOW,
    WINDOWED,
    best_address,
    mass_mode,
    route_case,
)
from storage.repos.wechat_mass import OPEN as OPEN_MASS
from storage.repos.wechat_mass import WechatMassRepo
from storage.repos.wecom_groups import GROUP_WAIT, WecomGroupRepo
from storage.repos.wecom_groups import OPEN as OPEN_GROUP
from storage.schema import Ts, broadcasts, client_tags, clients, identities, subscriptions
from storage.schema import messages as m
from storage.schema import wechat_mass_jobs as mass_jobs
from storage.schema import wecom_group_jobs as group_jobs

OPEN_ROWS = ("pending", "queued", "sending")
SEGMENT_KEYS = ("tier", "tag", "language", "channel", "advisor")


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    author: str
    kind: str
    audience: dict[str, Any]
    text: str
    final: dict[str, list[str]]  # language -> the parts each recipient gets, in order
    priority: int
    status: str
    send_at: datetime
    recipients: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


def _broadcast(row: Any) -> Broadcast:
    return Broadcast(
        id=row.id,
        author=row.author,
        kind=row.kind,
        audience=dict(row.audience),
        text=row.text,
        final={k: list(v) for k, v in dict(row.final).items()},
        priority=row.priority,
        status=row.status,
        send_at=aware(row.send_at),  # type: ignore[arg-type]
        recipients=row.recipients,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
    )


def sms_mode(audience: dict[str, Any]) -> str | None:
    """The push's SMS mode (`routes`): None when SMS was off as it was planned, "" when SMS
    is on but this push does not go by SMS, else the kind of template it goes through."""
    sms = audience.get("sms")
    return None if sms is None else str(sms.get("kind") or "")


def _recipients(audience: dict[str, Any], now: datetime, mass: str | None) -> sa.Select[Any]:
    """(client id, address, channel, language, route) of everyone the audience names: one
    address per client (`routes.best_address`; a `channel` segment picks among that
    channel's), erased clients never. `mass` (routes.LIST, TAG or DAY): what WeChat
    followers outside the window may be reached by; the audience's `sms` what SMS may carry."""
    segment = audience.get("segment") or {}
    sms = sms_mode(audience)
    best = best_address(now, segment.get("channel"), mass=mass, group=True, sms=sms)
    route = route_case(identities, now, mass=mass, group=True, sms=sms)
    query = (
        sa.select(
            clients.c.id,
            identities.c.address,
            identities.c.channel,
            clients.c.language,
            route.label("route"),
        )
        .select_from(clients.join(identities, identities.c.address == best))
        .where(clients.c.erased_at.is_(None))
    )
    topics = audience.get("topics")
    if topics:
        query = query.where(
            sa.exists().where(
                subscriptions.c.client_id == clients.c.id, subscriptions.c.topic_key.in_(topics)
            )
        )
    if "tier" in segment:
        query = query.where(clients.c.tier == segment["tier"])
    if "language" in segment:
        query = query.where(clients.c.language == segment["language"])
    if "advisor" in segment:
        query = query.where(clients.c.advisor == segment["advisor"])
    if "tag" in segment:
        query = query.where(
            sa.exists().where(
                client_tags.c.client_id == clients.c.id, client_tags.c.tag == segment["tag"]
            )
        )
    return query


COLUMNS = [
    "direction", "channel", "chat", "client_id", "kind", "text", "payload", "status",
    "attempts", "locked", "created_at", "updated_at", "bulk", "priority", "broadcast_id", "part",
    "error",
]  # fmt: skip
# Rows a route settles at once: a mass send's recipients wait for it, and a follower whose
# month of mass sends is spent gets nothing (WeChat would drop a 5th silently).
MASS_WAIT = "mass"
MONTH_SPENT = "wechat: the follower's 4 mass sends this month are used (本月群发已满)"
DAY_SPENT = "wechat: the account's one mass send of the day is used (今日群发已用)"
GROUP_DAY_SPENT = "wecom: the client got a group message today already (今日已收到群发)"
GONE_AWAY = "the client blocked the bot or unfollowed at this address (not tried)"
SMS_CARRIER = "sms: the carrier reported"  # storage.repos.sms: a failed receipt
SMS_WHY = {
    SMS_NONE: "sms: this push does not go by SMS (SMS_TOPICS, or no SMS text that fits)",
    NO_CONSENT: "sms: the client has not consented to topic texts by SMS (/sms on)",
    OPTED_OUT: "sms: the number replied to opt out (R/TD/退订)",
}

# One recipient: the client, or the chat where there is none (a group).
_recipient = sa.func.coalesce(sa.cast(m.c.client_id, sa.String), m.c.chat)

ALERT_LOCK = 7305119  # PostgreSQL advisory lock of alert senders (7305118 is the migrator's)


def _rows_from(
    source: Any,
    broadcast: Broadcast,
    text: str,
    part: int,
    now: datetime,
    buttons: list[list[dict[str, Any]]] | None = None,
    lang: str | None = None,
    *,
    status: str = "pending",
    error: str | None = None,
    extra: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> Any:
    """INSERT … SELECT of one part's delivery rows for every (channel, chat, client) of
    `source` (a subquery with columns channel, chat and client_id). Buttons carry the
    language of the words: a channel without buttons numbers them with a hint in it."""
    stamp = Ts  # turned to UTC like every stored moment
    payload: dict[str, Any] = {
        "buttons": buttons or [], "priority": broadcast.priority, "replace": False,
    }  # fmt: skip
    if buttons and lang:
        payload["lang"] = lang
    payload.update(extra or {})
    select = sa.select(
        sa.literal("out"), source.c.channel, source.c.chat, source.c.client_id, sa.literal("text"),
        sa.literal(text), sa.literal(payload, sa.JSON), sa.literal(status), sa.literal(0),
        sa.false(), sa.literal(now, stamp), sa.literal(now, stamp), sa.true(),
        sa.literal(broadcast.priority), sa.literal(broadcast.id), sa.literal(part),
        sa.literal(error, sa.Text), sa.literal(not_before, stamp),
    )  # fmt: skip
    return m.insert().from_select([*COLUMNS, "next_attempt_at"], select)


class BroadcastRepo(Repo):
    async def create(self, **values: Any) -> Broadcast:
        now = self.now()
        values = {"recipients": 0, "created_at": now, **values}
        result = await self.conn.execute(broadcasts.insert().values(**values))
        return await self.get(int(result.inserted_primary_key[0]))  # type: ignore[return-value]

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = (
            await self.conn.execute(sa.select(broadcasts).where(broadcasts.c.id == broadcast_id))
        ).first()
        return _broadcast(row) if row else None

    async def recent(self, limit: int = 20) -> list[Broadcast]:
        query = sa.select(broadcasts).order_by(broadcasts.c.id.desc()).limit(limit)
        return [_broadcast(r) for r in await self.conn.execute(query)]

    async def audience_size(self, audience: dict[str, Any]) -> int:
        return sum((await self.reach(audience)).values())

    async def reach(self, audience: dict[str, Any]) -> dict[str, int]:
        """How many clients each route would reach now: {"telegram.direct": n,
        "wechat.window": n, "wechat.outside": n, …}, one client counted once."""
        mass = await self._mass(audience)
        inner = _recipients(audience, self.now(), mass).subquery()
        query = sa.select(inner.c.channel, inner.c.route, sa.func.count()).group_by(
            inner.c.channel, inner.c.route
        )
        return {f"{ch}.{how}": int(n) for ch, how, n in await self.conn.execute(query)}

    async def mass_outlook(self, audience: dict[str, Any]) -> dict[str, Any]:
        """What a mass send would spend, for the preview: {"kind": "list", "nth": k} (the
        highest of the followers' k-th send of the month), {"kind": "tag"} (the day's one
        send), {"kind": "day", "used_by": broadcast id}, or {} when none is planned."""
        mass = await self._mass(audience)
        if mass == TAG:
            return {"kind": TAG}
        if mass == DAY:
            used_by = await self._mass_repo().day_taken_by(self.now())
            return {"kind": DAY, "used_by": used_by}
        if mass != LIST:
            return {}
        inner = _recipients(audience, self.now(), mass).subquery()
        used = await self._mass_repo().most_used(
            sa.select(inner.c.address).where(inner.c.route == MASS)
        )
        return {"kind": LIST, "nth": used + 1}

    async def _mass(self, audience: dict[str, Any], claim_for: int | None = None) -> str | None:
        """The mass send `audience` may use now: a subscription account's send of the day
        only while no other push has it (`claim_for`: take it for that broadcast)."""
        mode = mass_mode(audience.get("wechat_mass"))
        if mode != TAG:
            return mode
        repo = self._mass_repo()
        if claim_for is not None:
            return TAG if await repo.claim_day(self.now(), claim_for) else DAY
        return TAG if await repo.day_taken_by(self.now()) is None else DAY

    def _mass_repo(self) -> WechatMassRepo:
        return WechatMassRepo(self.conn, self.now, self.state)

    async def start(
        self,
        broadcast: Broadcast,
        buttons: dict[str, list[list[dict[str, Any]]]] | None = None,
        *,
        group_confirm: timedelta = timedelta(hours=12),
        sms_not_before: datetime | None = None,
    ) -> int:
        """scheduled -> running, and its delivery rows written; returns the recipients (0 when
        another process started it first). One INSERT … SELECT per language and part; the
        last part of each language carries `buttons[language]`, if given."""
        now = self.now()
        if not (
            await self.conn.execute(
                broadcasts.update()
                .where(broadcasts.c.id == broadcast.id, broadcasts.c.status == "scheduled")
                .values(status="running", started_at=now)
            )
        ).rowcount:
            return 0
        mass = await self._mass(broadcast.audience, claim_for=broadcast.id)
        base = _recipients(broadcast.audience, now, mass).subquery()
        languages = sorted(broadcast.final)
        default = "zh" if "zh" in broadcast.final else languages[0]
        # A tag's mass send is one text for all its followers: the default language's.
        tag_text = "\n".join(broadcast.final[default])
        tagged: list[str] = []
        for language in languages:
            audience = sa.select(base)
            if language == default:
                others = [lang for lang in languages if lang != default]
                if others:
                    audience = audience.where(base.c.language.not_in(others))
            else:
                audience = audience.where(base.c.language == language)
            source = audience.subquery()

            def chats(*routes: str, source: Any = source) -> Any:
                return (
                    sa.select(
                        source.c.channel,
                        source.c.address.label("chat"),
                        source.c.id.label("client_id"),
                    )
                    .where(source.c.route.in_(routes))
                    .subquery()
                )

            parts = broadcast.final[language]
            sent_one_by_one = chats(DIRECT, WINDOW, OUTSIDE)
            for part, text in enumerate(parts):
                last = (buttons or {}).get(language) if part == len(parts) - 1 else None
                await self._pending(
                    _rows_from(sent_one_by_one, broadcast, text, part, now, last, language)
                )
            await self.conn.execute(
                _rows_from(
                    chats(GONE), broadcast, parts[0], 0, now, status="blocked", error=GONE_AWAY
                )
            )
            await self.conn.execute(
                _rows_from(
                    chats(GROUP_DAY), broadcast, parts[0], 0, now, status="failed",
                    error=GROUP_DAY_SPENT,
                )
            )  # fmt: skip
            whole = "\n".join(parts)  # an advisor's group message carries the whole text
            grouped = chats(GROUP)
            await self.conn.execute(
                _rows_from(grouped, broadcast, whole, 0, now, status=GROUP_WAIT)
            )
            await WecomGroupRepo(self.conn, self.now, self.state).plan(
                broadcast.id, whole,
                [r.chat for r in await self.conn.execute(sa.select(grouped.c.chat))],
                group_confirm,
            )  # fmt: skip
            sms = broadcast.audience.get("sms") or {}
            if sms.get("text"):  # one short text, whatever the language
                payload = {"template": sms["kind"]}
                await self._pending(
                    _rows_from(
                        chats(SMS), broadcast, sms["text"], 0, now, extra=payload,
                        not_before=sms_not_before,
                    )
                )  # fmt: skip
            else:  # never written without a text (`lifecycle.plan`); kept as a failure if so
                await self.conn.execute(
                    _rows_from(chats(SMS), broadcast, parts[0], 0, now, status="failed",
                               error=SMS_WHY[SMS_NONE])
                )  # fmt: skip
            for route, error in SMS_WHY.items():
                await self.conn.execute(
                    _rows_from(chats(route), broadcast, parts[0], 0, now, status="failed",
                               error=error)
                )  # fmt: skip
            for route, error in ((FULL, MONTH_SPENT), (DAY_USED, DAY_SPENT)):
                if mass in (LIST, DAY):
                    await self.conn.execute(
                        _rows_from(
                            chats(route), broadcast, parts[0], 0, now, status="failed", error=error
                        )
                    )
            if mass in (LIST, TAG):
                whole = "\n".join(parts) if mass == LIST else tag_text  # one call, whole text
                massed = chats(MASS)
                await self.conn.execute(
                    _rows_from(massed, broadcast, whole, 0, now, status=MASS_WAIT)
                )
                addresses = [r.chat for r in await self.conn.execute(sa.select(massed.c.chat))]
                if mass == LIST:
                    await self._mass_repo().plan(broadcast.id, language, whole, addresses)
                else:
                    tagged += addresses
        if mass == TAG:
            topic = broadcast.audience["topics"][0]
            await self._mass_repo().plan_tag(broadcast.id, topic, tag_text, tagged)
        return await self._count_recipients(broadcast.id)

    async def _pending(self, insert: Any) -> None:
        """Delivery rows for the senders to claim; the transaction notes that they are there
        (`TxState.unannounced`), so its committer wakes the senders."""
        if (await self.conn.execute(insert)).rowcount:
            self.state.unannounced = True

    async def _count_recipients(self, broadcast_id: int) -> int:
        """Recipients are the distinct clients its rows went to (a push tried again on a
        client's second address is still one), or chats without a client (groups)."""
        count = await self.conn.execute(
            sa.select(sa.func.count(sa.distinct(_recipient))).where(
                m.c.broadcast_id == broadcast_id
            )
        )
        recipients = int(count.scalar() or 0)
        await self.conn.execute(
            broadcasts.update().where(broadcasts.c.id == broadcast_id).values(recipients=recipients)
        )
        return recipients

    async def alerts_since(self, since: datetime) -> list[Broadcast]:
        """Alerts created since `since` and not cancelled, newest first: the caller compares
        their texts (a double press, a second staff member retyping the same warning).

        Holds the alert lock to the end of the transaction, so two staff sending at once from
        two processes take turns and the second sees the first's alert. SQLite's writers take
        turns already; PostgreSQL's need the lock."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ALERT_LOCK)))
        query = (
            sa.select(broadcasts)
            .where(
                broadcasts.c.kind == "alert",
                broadcasts.c.created_at >= since,
                broadcasts.c.status != "cancelled",
            )
            .order_by(broadcasts.c.id.desc())
        )
        return [_broadcast(r) for r in await self.conn.execute(query)]

    async def withdraw(self, broadcast_id: int) -> bool:
        """An alert becomes "withdrawn" in one conditional UPDATE: True for exactly one
        caller, however many staff or processes take it back at once."""
        result = await self.conn.execute(
            broadcasts.update()
            .where(broadcasts.c.id == broadcast_id, broadcasts.c.kind == "alert")
            .values(kind="withdrawn")
        )
        return bool(result.rowcount)

    async def start_followup(self, broadcast: Broadcast, of: int) -> int:
        """Rows for `broadcast` to exactly those who got broadcast `of` (a withdrawal), each
        in their language as `start` does (clients of no listed language get the default)."""
        now = self.now()
        await self.conn.execute(
            broadcasts.update()
            .where(broadcasts.c.id == broadcast.id)
            .values(status="running", started_at=now)
        )
        languages = sorted(broadcast.final)
        default = "zh" if "zh" in broadcast.final else languages[0]
        others = [lang for lang in languages if lang != default]
        for language in languages:
            got = (
                sa.select(m.c.channel, m.c.chat, m.c.client_id)
                .select_from(m.outerjoin(clients, clients.c.id == m.c.client_id))
                .where(m.c.broadcast_id == of, m.c.part == 0, m.c.status.in_(("sent", MASS_WAIT)))
            )
            if language != default:
                got = got.where(clients.c.language == language)
            elif others:
                got = got.where(
                    sa.or_(clients.c.language.is_(None), clients.c.language.not_in(others))
                )
            source = got.subquery()
            for part, text in enumerate(broadcast.final[language]):
                await self._pending(_rows_from(source, broadcast, text, part, now))
        return await self._count_recipients(broadcast.id)

    async def due(self, now: datetime, limit: int = 10) -> list[Broadcast]:
        query = (
            sa.select(broadcasts)
            .where(broadcasts.c.status == "scheduled", broadcasts.c.send_at <= now)
            .order_by(broadcasts.c.send_at, broadcasts.c.id)
            .limit(limit)
        )
        return [_broadcast(r) for r in await self.conn.execute(query)]

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        """Delivery rows by state (first parts only: one per recipient)."""
        query = (
            sa.select(m.c.status, sa.func.count())
            .where(m.c.broadcast_id == broadcast_id, m.c.part == 0)
            .group_by(m.c.status)
        )
        return {r[0]: int(r[1]) for r in await self.conn.execute(query)}

    async def routes(self, broadcast_id: int) -> dict[str, dict[str, int]]:
        """Recipients by route and outcome, e.g. {"telegram.direct": {"sent": 9},
        "wechat.window": {"sent": 3}, "wechat.mass": {"mass": 7}, "wechat.full": {"failed": 2}}
        ("mass": handed to a WeChat mass send, which reports totals only)."""
        route = sa.case(
            (m.c.error == GONE_AWAY, GONE),
            *((m.c.error == error, why) for why, error in SMS_WHY.items()),
            (m.c.channel == SMS, SMS),
            (m.c.channel.not_in(WINDOWED), DIRECT),
            (m.c.status == MASS_WAIT, MASS),
            (m.c.error == MONTH_SPENT, FULL),
            (m.c.error == DAY_SPENT, DAY_USED),
            (m.c.error == GROUP_DAY_SPENT, GROUP_DAY),
            (m.c.status == GROUP_WAIT, GROUP),
            (m.c.error.like("wecom group message:%"), GROUP),
            (m.c.error.like("wechat mass send:%"), MASS),
            (m.c.platform_id.like("tpl:%"), "template"),
            (m.c.error.like("%window%"), OUTSIDE),
            else_=WINDOW,
        )
        query = (
            sa.select(m.c.channel, route, m.c.status, sa.func.count())
            .where(m.c.broadcast_id == broadcast_id, m.c.part == 0)
            .group_by(m.c.channel, route, m.c.status)
        )
        out: dict[str, dict[str, int]] = {}
        for channel, how, status, n in await self.conn.execute(query):
            out.setdefault(f"{channel}.{how}", {})[status] = int(n)
        return out

    async def unreached(self, broadcast_id: int) -> dict[str, dict[str, int]]:
        """Recipients who got nothing, by channel and why: "blocked" (blocked the bot or
        unfollowed), "window" (the platform allows messages only for a while after the
        client's last contact: WeChat), "quota" (the follower's mass sends of the month are
        spent), or "other"."""
        query = (
            sa.select(m.c.channel, m.c.status, m.c.error, sa.func.count())
            .where(
                m.c.broadcast_id == broadcast_id,
                m.c.part == 0,
                m.c.status.in_(("failed", "blocked")),
            )
            .group_by(m.c.channel, m.c.status, m.c.error)
        )
        out: dict[str, dict[str, int]] = {}
        sms_why = {error: why for why, error in SMS_WHY.items()}
        for channel, status, error, n in await self.conn.execute(query):
            why = (
                sms_why[error]
                if error in sms_why
                else "carrier"
                if (error or "").startswith(SMS_CARRIER)
                else "blocked"
                if status == "blocked"
                else "window"
                if "window" in (error or "")
                else "quota"
                if error == MONTH_SPENT
                else "group_day"
                if error == GROUP_DAY_SPENT
                else "group"
                if (error or "").startswith("wecom group message:")
                else "day"
                if error == DAY_SPENT
                else "mass"
                if (error or "").startswith("wechat mass send:")
                else "other"
            )
            by_why = out.setdefault(channel, {})
            by_why[why] = by_why.get(why, 0) + int(n)
        return out

    async def cancel(self, broadcast_id: int) -> str | None:
        """Cancel a scheduled broadcast, or stop a running one (rows not yet tried are
        cancelled). Returns the new status, or None if it had already ended."""
        row = await self.get(broadcast_id)
        if row is None or row.status not in ("scheduled", "running"):
            return None
        # A running one is "stopping" until its rows in flight come back; then "stopped",
        # and its author gets the report like any finished broadcast.
        status = "cancelled" if row.status == "scheduled" else "stopping"
        now = self.now()
        await self.conn.execute(
            broadcasts.update()
            .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == row.status)
            .values(status=status, finished_at=now if status == "cancelled" else None)
        )
        await self.conn.execute(
            m.update()
            .where(m.c.broadcast_id == broadcast_id, m.c.status.in_(("pending", "queued")))
            .values(status="cancelled", lease_owner=None, lease_until=None, updated_at=now)
        )
        await WechatMassRepo(self.conn, self.now, self.state).cancel(broadcast_id)
        return status

    async def finished(self, limit: int = 20) -> list[Broadcast]:
        """Running (or stopping) broadcasts with no row left to try: marked done (stopped)
        here, exactly once."""
        still = sa.or_(
            sa.exists().where(m.c.broadcast_id == broadcasts.c.id, m.c.status.in_(OPEN_ROWS)),
            sa.exists().where(  # a mass send not yet made
                mass_jobs.c.broadcast_id == broadcasts.c.id,
                mass_jobs.c.status.in_(OPEN_MASS),
            ),
            sa.exists().where(  # a group message its advisors have yet to send
                group_jobs.c.broadcast_id == broadcasts.c.id,
                group_jobs.c.status.in_(OPEN_GROUP),
            ),
        )
        query = (
            sa.select(broadcasts)
            .where(broadcasts.c.status.in_(("running", "stopping")), sa.not_(still))
            .limit(limit)
        )
        done = []
        for row in (await self.conn.execute(query)).all():
            final = "done" if row.status == "running" else "stopped"
            changed = await self.conn.execute(
                broadcasts.update()
                .where(broadcasts.c.id == row.id, broadcasts.c.status == row.status)
                .values(status=final, finished_at=self.now())
            )
            if changed.rowcount:
                done.append(await self.get(row.id))
        return [b for b in done if b is not None]

    async def drop_recipient(
        self, addresses: Sequence[str], topics: Sequence[str] | None = None
    ) -> int:
        """A client who unsubscribed (from `topics`) or was erased gets nothing more from
        running broadcasts to those topics (every running one when `topics` is None)."""
        if not addresses:
            return 0
        running = sa.select(broadcasts.c.id, broadcasts.c.audience).where(
            broadcasts.c.status == "running"
        )
        ids = [
            r.id
            for r in await self.conn.execute(running)
            if topics is None or set(dict(r.audience).get("topics") or ()) & set(topics)
        ]
        if not ids:
            return 0
        result = await self.conn.execute(
            m.update()
            .where(
                m.c.broadcast_id.in_(ids),
                m.c.chat.in_(list(addresses)),
                m.c.status.in_(("pending", "queued")),
            )
            .values(status="cancelled", lease_owner=None, lease_until=None, updated_at=self.now())
        )
        return int(result.rowcount or 0)
