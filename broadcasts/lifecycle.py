"""A broadcast's life: planned (screened, audience counted), created, started when due and
reported to its author when finished; undelivered replies are reported to staff the same way.
A broadcast never sends inline: it writes its delivery rows (set-based, in the caller's
transaction) and the delivery engine drains them within the platform's limits."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.compliance import forbidden_in
from bot.core.folding import fold
from bot.core.i18n import Markup, Translator
from bot.core.text import escape
from bot.core.types import Outbound, normalize_address
from broadcasts.compose import MAX_INPUT, final_texts
from broadcasts.reach import routes_text
from storage.records import MassJob, sms_parts
from storage.repos.broadcasts import SEGMENT_KEYS, Broadcast
from storage.repos.client_files import TIERS
from storage.tx import Tx

PRIORITY = {"broadcast": 0, "alert": 10}  # alerts jump ahead of routine notes


class BroadcastError(ValueError):
    """Why a broadcast cannot go out, for the person who asked (already in their words)."""


@dataclass(frozen=True, slots=True)
class Plan:
    audience: dict[str, Any]
    text: str
    final: dict[str, list[str]]
    recipients: int
    advisory: bool
    reach: dict[str, int]  # clients per route now ("telegram.direct", "wechat.outside", …)
    mass: dict[str, Any] = field(default_factory=dict)  # what a mass send would spend
    sms: SmsPlan | None = None  # what goes by SMS (None: SMS is off)

    def routes(self, t: Translator) -> str:
        """The reach plan in words, for previews (the SMS text and its cost too)."""
        text = routes_text(t, self.reach, self.mass)
        return f"{text}\n{self.sms.describe(t, self.reach)}" if self.sms else text


@dataclass(frozen=True, slots=True)
class SmsPlan:
    """The short text a push carries by SMS (`text`, None when it does not go by SMS) and,
    when it does not, why (a catalog key and its values)."""

    kind: str  # alert | marketing
    text: str | None
    sign: str
    why: tuple[str, dict[str, Any]] | None = None

    def describe(self, t: Translator, reach: dict[str, int]) -> str:
        if self.text is None:
            key, values = self.why or ("sms.plan_none", {})
            return t(key, **values)
        shown = f"【{self.sign}】{self.text}" if self.sign else self.text
        parts = sms_parts(len(shown))
        n = reach.get("sms.sms", 0)
        return t(
            "sms.plan_line", text=shown, length=len(shown), parts=parts, n=f"{n:,}",
            total=f"{n * parts:,}",
        )  # fmt: skip


SMS_LABELS = ("短信:", "短信：", "sms:")


def sms_part(text: str) -> tuple[str, str | None]:
    """A broadcast's own text and the short text it carries by SMS: a last paragraph that
    starts with 短信: (or SMS:) is the SMS text, on every channel and in the CLI alike."""
    body, sep, last = text.rstrip().rpartition("\n\n")
    candidate = last if sep else text.strip()
    for label in SMS_LABELS:
        if candidate[: len(label)].lower() == label:
            return (body.strip() if sep else ""), candidate[len(label) :].strip() or None
    return text, None


def sms_plan(
    tx: Tx,
    t: Translator,
    text: str,
    sms_text: str | None,
    audience: dict[str, Any],
    *,
    advisory: bool,
    kind: str,
) -> SmsPlan | None:
    """What the push carries by SMS, written into `audience["sms"]` for the fan-out: only
    topics SMS_TOPICS names; the short text staff wrote, else the text itself when it fits
    the template's variable; the risk words on advice, the opt-out words on marketing. A short
    text that does not fit, or one for a push that cannot go by SMS, is refused by name."""
    policy = tx.sms_policy
    if policy is None:
        if sms_text:
            raise BroadcastError(t("sms.plan_off"))
        return None
    topics = set(audience.get("topics") or [])
    audience["sms"] = {"kind": ""}
    sms_kind = "alert" if kind == "alert" else "marketing"
    if not topics & policy.topics:
        if sms_text:
            raise BroadcastError(
                t("sms.plan_topic", topics=", ".join(sorted(policy.topics)) or "-")
            )
        return SmsPlan(sms_kind, None, policy.sign, ("sms.plan_topic_none", {}))
    if sms_text and (phrases := forbidden_in(sms_text)):
        raise BroadcastError(t("broadcast.blocked", phrases="、".join(phrases)))
    body = " ".join((sms_text or text).split())
    if advisory:
        body = f"{body} {t.with_lang('zh')('sms.risk_words')}"
    if sms_kind == "marketing":
        body = f"{body} {policy.opt_out}"
    if len(body) > policy.variable_max:
        why = {"length": len(body), "limit": policy.variable_max}
        if sms_text:
            raise BroadcastError(t("sms.plan_too_long", **why))
        return SmsPlan(sms_kind, None, policy.sign, ("sms.plan_write_short", why))
    audience["sms"] = {"kind": sms_kind, "text": escape(body)}  # markup, like every row
    return SmsPlan(sms_kind, body, policy.sign)


def parse_segment(expr: str) -> dict[str, str]:
    """`tier=vip,tag=黄金,language=zh,channel=telegram,advisor=telegram:501` (all must hold)."""
    segment: dict[str, str] = {}
    for item in (p.strip() for p in expr.replace("，", ",").split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or key not in SEGMENT_KEYS or not value:
            raise BroadcastError(
                f"segment {item!r}: use KEY=VALUE with KEY one of {', '.join(SEGMENT_KEYS)}"
            )
        if key == "tier" and value not in TIERS:
            raise BroadcastError(f"segment tier must be one of {', '.join(TIERS)}")
        if key == "advisor":
            try:
                value = normalize_address(value)
            except ValueError as exc:
                raise BroadcastError(f"segment advisor: {exc}") from None
        segment[key] = value
    if not segment:
        raise BroadcastError("the segment is empty")
    return segment


async def plan(
    tx: Tx,
    t: Translator,
    *,
    author: str,
    text: str,
    topics: list[str] | None = None,
    segment: dict[str, str] | None = None,
    header: str | None = None,
    blocked: str = "broadcast.blocked",
    mass: bool | None = None,
    sms_text: str | None = None,
    kind: str = "broadcast",
) -> Plan:
    """Check everything and say what would go out; nothing is written but a refusal's audit.
    `header`: catalog key of the first line clients read (an alert's); `blocked`: catalog key
    of the compliance refusal, so a note's refusal speaks of the note; `mass=False`: WeChat
    followers outside the window are not reached by a mass send even where policy allows;
    `sms_text`: the short text for SMS (`sms_plan`); `kind`: alert or broadcast."""
    text = text.strip()
    if sms_text is None:
        text, sms_text = sms_part(text)
    if not text:
        raise BroadcastError(t("broadcast.empty"))
    if len(text) > MAX_INPUT:
        raise BroadcastError(t("broadcast.too_long", limit=MAX_INPUT, length=len(text)))
    phrases = forbidden_in(text)
    if phrases:
        await tx.audit.log(author, "broadcast.blocked", phrases=phrases, text=text[:4000])
        raise BroadcastError(t(blocked, phrases="、".join(phrases)))
    audience, advisory = await audience_for(tx, t, topics, segment, mass)
    sms = sms_plan(tx, t, text, sms_text, audience, advisory=advisory, kind=kind)
    reach = await tx.broadcasts.reach(audience)
    final = final_texts(text, t, advisory=advisory, header=header)
    mass_ = await tx.broadcasts.mass_outlook(audience) if audience.get("wechat_mass") else {}
    return Plan(audience, text, final, sum(reach.values()), advisory, reach, mass_, sms)


async def audience_for(
    tx: Tx,
    t: Translator,
    topics: list[str] | None,
    segment: dict[str, str] | None,
    mass: bool | None = None,
) -> tuple[dict[str, Any], bool]:
    """Who a push reaches (the topics' subscribers, or a segment), and whether it is advice
    (it then carries the risk warning). Shared by the plan and the staff console's live
    audience count."""
    known = {tp.key: tp for tp in await tx.topics.list(include_disabled=True)}
    audience: dict[str, Any]
    if topics:
        unknown = [k for k in topics if k not in known]
        if unknown:
            raise BroadcastError(
                t("broadcast.unknown_topic", key=unknown[0], known=", ".join(sorted(known)))
            )
        audience = {"topics": sorted(set(topics))}
        advisory = any(known[k].advisory for k in topics)
        # WeChat followers outside the window: a mass send, where the firm's policy allows
        # one for these topics and staff did not decline it. A subscription account sends
        # to one topic's tag: a push to several topics cannot use it.
        allowed = bool(tx.mass_topics & set(topics))
        if tx.mass_kind == "tag":
            allowed = len(audience["topics"]) == 1 and allowed
        if allowed and mass is not False:
            audience["wechat_mass"] = True if tx.mass_kind == "list" else "tag"
    elif segment:
        audience = {"segment": segment}
        advisory = True  # a segment message is advice to those clients: it carries the warning
    else:
        raise BroadcastError(t("broadcast.no_audience"))
    return audience, advisory


async def create(
    tx: Tx,
    plan_: Plan,
    *,
    author: str,
    send_at: datetime,
    kind: str = "broadcast",
    buttons: dict[str, list[list[dict[str, Any]]]] | None = None,
) -> Broadcast:
    """Keep the broadcast; when it is due now, its rows are written at once (the last part
    of each language with `buttons[language]`, if given)."""
    now = tx.now()
    broadcast = await tx.broadcasts.create(
        author=author,
        kind=kind,
        audience=plan_.audience,
        text=plan_.text,
        final=plan_.final,
        priority=PRIORITY[kind],
        status="scheduled",
        send_at=max(send_at, now),
    )
    await tx.audit.log(
        author,
        f"{kind}.create",
        broadcast=broadcast.id,
        audience=plan_.audience,
        send_at=broadcast.send_at.isoformat(),
    )
    if broadcast.send_at <= now:
        await tx.broadcasts.start(
            broadcast, buttons=buttons, group_confirm=group_confirm(tx, broadcast),
            sms_not_before=sms_not_before(tx, broadcast),
        )  # fmt: skip
    return await tx.broadcasts.get(broadcast.id) or broadcast


def sms_not_before(tx: Tx, broadcast: Broadcast) -> datetime | None:
    """Texts of a push started in quiet hours wait for their end in the outbox (not tried
    and put back one by one)."""
    kind = (broadcast.audience.get("sms") or {}).get("kind")
    if not kind or tx.sms_policy is None:
        return None
    return tx.sms_policy.not_before(kind, tx.now())


def group_confirm(tx: Tx, broadcast: Broadcast) -> timedelta:
    """How long advisors have to confirm its WeCom group messages: an alert is urgent."""
    push, alert = tx.group_confirm
    return alert if broadcast.kind == "alert" else push


def same_words(text: str) -> str:
    """What two texts must share to be the same message retyped: folded (full-width and
    traditional forms read alike), without spaces or punctuation, so a full-width comma or a
    missing final 。 makes no difference, while 3.5 and 35 or 5% and 5 stay apart."""
    folded = fold(text)

    def kept(i: int, char: str) -> bool:
        if char.isspace():
            return False
        if not unicodedata.category(char).startswith("P") or char in "%‰":
            return True
        return (
            char in ".,:"
            and 0 < i < len(folded) - 1
            and (folded[i - 1].isdigit() and folded[i + 1].isdigit())
        )

    return "".join(c for i, c in enumerate(folded) if kept(i, c))


def check_time(send_at: datetime, now: datetime, t: Translator) -> None:
    """A time more than a minute ago is a mistake, not "now"."""
    if (now - send_at).total_seconds() > 60:
        raise BroadcastError(t("broadcast.past"))


def report(
    t: Translator,
    broadcast: Broadcast,
    counts: dict[str, int],
    unreached: dict[str, dict[str, int]] | None = None,
    mass: list[MassJob] | None = None,
) -> str:
    took = (broadcast.finished_at or broadcast.started_at or broadcast.created_at) - (
        broadcast.started_at or broadcast.created_at
    )
    lines = [
        t(
            "broadcast.unreached",
            channel=t(f"broadcast.channel_{channel}"),
            n=sum(why.values()),
            why=Markup(
                t("broadcast.why_sep").join(
                    t(f"broadcast.why_{k}", n=n) for k, n in sorted(why.items())
                )
            ),
        )
        for channel, why in sorted((unreached or {}).items())
    ]
    lines += _mass_lines(t, broadcast, mass or [])
    return "\n".join([_summary(t, broadcast, counts, took.total_seconds()), *lines])


def _mass_lines(t: Translator, broadcast: Broadcast, jobs: list[MassJob]) -> list[str]:
    """WeChat reports a mass send as totals, later: what it said, or that it will."""
    made = [j for j in jobs if j.status in ("sent", "done")]
    if not made:
        return []
    n = sum(len(j.chats) for j in made)
    if all(j.status == "done" for j in made):
        sent = sum(j.sent or 0 for j in made)
        errors = sum(j.errors or 0 for j in made)
        return [t("broadcast.mass_line", n=n, sent=sent, errors=errors)]
    return [t("broadcast.mass_waiting", n=n, id=broadcast.id)]


def _summary(t: Translator, broadcast: Broadcast, counts: dict[str, int], took: float) -> str:
    return t(
        "broadcast.report",
        id=broadcast.id,
        status=t(f"broadcast.status_{broadcast.status}"),
        recipients=broadcast.recipients,
        sent=counts.get("sent", 0),
        blocked=counts.get("blocked", 0),
        failed=counts.get("failed", 0),
        ambiguous=counts.get("ambiguous", 0),
        cancelled=counts.get("cancelled", 0),
        minutes=f"{took / 60:.1f}",
    )


REPORTED_UPTO = "staff.undelivered_reported_upto"


async def undelivered_report(tx: Tx, t: Translator, staff: list[str]) -> list[Outbound]:
    """Replies to people that could not be delivered (failed, ambiguous) are told to staff
    once each: a person may be waiting for an answer that never came."""
    if not staff:
        return []
    after = int(await tx.meta.get(REPORTED_UPTO) or 0)
    rows = await tx.messages.undelivered_replies(after)
    if not rows:
        return []
    await tx.meta.set(REPORTED_UPTO, str(rows[-1].id))
    rows = [r for r in rows if r.chat not in staff]  # never a report about a report
    if not rows:
        return []
    lines = [t("broadcast.undelivered_title", n=len(rows))]
    for row in rows:
        lines.append(
            t("broadcast.undelivered_line", id=row.id, chat=row.chat, status=row.status,
              text=(row.text or "")[:40])
        )  # fmt: skip
    return [Outbound("\n".join(lines), chat=target) for target in staff]


async def tick(tx: Tx, t: Translator, now: datetime) -> tuple[int, list[Outbound]]:
    """Start what is due; tell each author when their broadcast has finished. Returns the
    recipients of what started and the reports."""
    started = 0
    for due in await tx.broadcasts.due(now):
        started += await tx.broadcasts.start(
            due, group_confirm=group_confirm(tx, due), sms_not_before=sms_not_before(tx, due)
        )
    outs = []
    for done in await tx.broadcasts.finished():
        author = await tx.clients.by_address(done.author)
        ta = t.with_lang(author.language if author else "zh")
        outs.append(
            Outbound(
                report(
                    ta,
                    done,
                    await tx.broadcasts.counts(done.id),
                    await tx.broadcasts.unreached(done.id),
                    await tx.wechat_mass.of_broadcast(done.id),
                ),
                chat=done.author,
            )
        )
    return started, outs
