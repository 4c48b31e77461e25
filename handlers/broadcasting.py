"""Staff broadcasts from the chat: /broadcast (topics or a segment, the text, a preview with
the recipient count and the final text, then now, later or cancel), /alert, /broadcasts."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from bot.core.i18n import LANGUAGES, Markup, Translator
from bot.core.router import Router
from bot.core.state import StateControl
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound
from broadcasts import lifecycle
from broadcasts.lifecycle import BroadcastError
from broadcasts.rhythm import Rhythm
from handlers.shared.desk_policy import DeskPolicy
from storage.records import MassJob
from storage.tx import Tx

router = Router("broadcasting")
STAFF = ("staff",)


def _cancel(t: Translator) -> list[Button]:
    return [Button(t("common.cancel"), "req:cancel")]


async def _topic_menu(tx: Tx, t: Translator, chosen: list[str]) -> Outbound:
    topics = [tp for tp in await tx.topics.list() if tp.enabled]
    rows = [
        [Button(("✅ " if tp.key in chosen else "") + tp.name(t.lang), f"bc:t:{tp.key}")]
        for tp in topics
    ]
    rows.append([Button(t("bcstaff.next"), "bc:next")])
    rows.append(_cancel(t))
    return Outbound(t("bcstaff.choose"), buttons=rows, replace=True)


@router.command("broadcast", roles=STAFF)
async def broadcast(
    event: Inbound, t: Translator, tx: Tx, fsm: StateControl, args: list[str]
) -> Outbound:
    """/broadcast, or /broadcast segment tier=vip,tag=黄金 to address a segment."""
    if args and args[0].lower() == "segment":
        try:
            segment = lifecycle.parse_segment(" ".join(args[1:]))
        except BroadcastError as exc:
            return Outbound(t("bcstaff.bad_segment", why=str(exc)))
        await fsm.set("bc.text", segment=segment)
        return Outbound(t("bcstaff.write"), buttons=[_cancel(t)])
    await fsm.set("bc.topics", topics=[])
    return await _topic_menu(tx, t, [])


@router.callback("bc", roles=STAFF)
async def broadcast_button(
    event: Inbound,
    data: str,
    t: Translator,
    tx: Tx,
    fsm: StateControl,
    desk: DeskPolicy,
    rhythm: Rhythm,
) -> Outbound | list[Outbound]:
    action, _, arg = data.partition(":")
    state = dict(fsm.current.data) if fsm.current else {}
    if action == "x" and arg.isdigit() and len(arg) < 10:  # cancel or stop one
        result = await tx.broadcasts.cancel(int(arg))
        if result is None:
            return Outbound(t("bcstaff.already_over", id=arg))
        await tx.audit.log(event.sender, f"broadcast.{result}", broadcast=int(arg))
        return Outbound(
            t("bcstaff.cancelled" if result == "cancelled" else "bcstaff.stopped", id=arg)
        )
    if action == "t" and fsm.name == "bc.topics":
        chosen = list(state.get("topics", []))
        chosen = [k for k in chosen if k != arg] if arg in chosen else [*chosen, arg]
        await fsm.set("bc.topics", topics=chosen)
        return await _topic_menu(tx, t, chosen)
    if action == "next" and fsm.name == "bc.topics":
        if not state.get("topics"):
            return Outbound(t("bcstaff.pick_one"))
        await fsm.set("bc.text", topics=state["topics"])
        return Outbound(t("bcstaff.write"), buttons=[_cancel(t)])
    if action == "alert" and fsm.name == "alert.confirm":
        await fsm.clear()
        return await _confirmed_alert(event, t, tx, rhythm, str(state.get("text", "")))
    if action == "nomass" and fsm.name == "bc.preview":
        return await _preview(event, t, tx, fsm, {**state, "mass": False})
    if action in ("now", "later", "confirm") and fsm.name in ("bc.preview", "bc.at"):
        if action == "later":
            await fsm.set("bc.at", **state)
            return Outbound(t("bcstaff.when"), buttons=[_cancel(t)])
        return await _send(event, t, tx, fsm, state, desk)
    return Outbound(t("errors.stale_button"))


async def _plan(event: Inbound, t: Translator, tx: Tx, state: dict[str, Any]) -> lifecycle.Plan:
    return await lifecycle.plan(
        tx, t, author=event.sender, text=state["text"], topics=state.get("topics"),
        segment=state.get("segment"), mass=state.get("mass"),
    )  # fmt: skip


@router.state("bc.text", "bc.at", roles=STAFF)
async def broadcast_text(
    event: Inbound, t: Translator, tx: Tx, fsm: StateControl, state_data: dict[str, Any],
    desk: DeskPolicy,
) -> Outbound | list[Outbound]:  # fmt: skip
    text = clean_input(event.text)
    if fsm.name == "bc.at":
        try:
            when = datetime.fromisoformat(text.replace("/", "-"))
        except ValueError:
            return Outbound(t("bcstaff.bad_time"), buttons=[_cancel(t)])
        when = when if when.tzinfo else when.replace(tzinfo=desk.tz)
        try:
            lifecycle.check_time(when, tx.now(), t)
        except BroadcastError as exc:
            return Outbound(str(exc), buttons=[_cancel(t)])
        await fsm.set("bc.at", **state_data, at=when.isoformat())
        confirm = [[Button(t("bcstaff.confirm"), "bc:confirm")], _cancel(t)]
        return Outbound(t("bcstaff.confirm_at", at=desk.local(when)), buttons=confirm)
    return await _preview(event, t, tx, fsm, {**state_data, "text": text})


async def _preview(
    event: Inbound, t: Translator, tx: Tx, fsm: StateControl, state: dict[str, Any]
) -> Outbound:
    """Who gets what, by which route; where WeChat followers would be reached by a mass send
    (one of their 4 a month), staff may keep it to those inside the window instead."""
    try:
        plan = await _plan(event, t, tx, state)
    except BroadcastError as exc:
        return Outbound(str(exc), buttons=[_cancel(t)])
    if plan.recipients == 0:
        await fsm.clear()
        return Outbound(t("bcstaff.nobody"))
    await fsm.set("bc.preview", **state)
    preview = t(
        "bcstaff.preview", n=plan.recipients, routes=Markup(plan.routes(t)),
        text=Markup("\n".join(plan.final[t.lang])),
    )  # fmt: skip
    buttons = [
        [Button(t("bcstaff.now"), "bc:now"), Button(t("bcstaff.later"), "bc:later")],
        _cancel(t),
    ]
    if any(key.endswith(".mass") and n for key, n in plan.reach.items()):
        buttons.insert(1, [Button(t("bcstaff.window_only"), "bc:nomass")])
    return Outbound(preview, buttons=buttons)


async def _send(
    event: Inbound, t: Translator, tx: Tx, fsm: StateControl, state: dict[str, Any],
    desk: DeskPolicy,
) -> Outbound:  # fmt: skip
    await fsm.clear()
    try:
        plan = await _plan(event, t, tx, state)
    except BroadcastError as exc:
        return Outbound(str(exc))
    at = datetime.fromisoformat(state["at"]) if state.get("at") else tx.now()
    created = await lifecycle.create(tx, plan, author=event.sender, send_at=at)
    if created.status == "running":
        return Outbound(t("bcstaff.started", id=created.id, n=created.recipients))
    return Outbound(t("bcstaff.scheduled", id=created.id, at=desk.local(created.send_at)))


@router.command("alert", roles=STAFF)
async def alert(
    event: Inbound, t: Translator, tx: Tx, args: list[str], rhythm: Rhythm, fsm: StateControl
) -> Outbound:
    """/alert TEXT: an intraday risk warning to the `risk` topic, at once, ahead of the rest;
    outside trading hours only after a confirmation. /alert withdraw ID takes one back."""
    if args and args[0].lower() == "withdraw":
        return await _withdraw(event, t, tx, args[1:])
    pieces = event.text.split(None, 1)
    text = clean_input(pieces[1]) if len(pieces) == 2 else ""
    if not text:
        return Outbound(t("bcstaff.alert_usage"))
    if rhythm.in_session(tx.now()):
        return await _confirmed_alert(event, t, tx, rhythm, text)
    if double := await _double(tx, rhythm, text):
        return Outbound(t("bcstaff.alert_double", id=double))
    try:  # checked now, so a refusal comes before the question
        plan = await _plan_alert(event, t, tx, text)
    except BroadcastError as exc:
        return Outbound(str(exc))
    await fsm.set("alert.confirm", text=text)
    buttons = [[Button(t("bcstaff.send_anyway"), "bc:alert")], _cancel(t)]
    routes = Markup(plan.routes(t))
    return Outbound(t("bcstaff.alert_closed", n=plan.recipients, routes=routes), buttons=buttons)


async def _plan_alert(event: Inbound, t: Translator, tx: Tx, text: str) -> lifecycle.Plan:
    """To the `risk` topic, under a header that sets it apart from routine messages."""
    return await lifecycle.plan(
        tx, t, author=event.sender, text=text, topics=["risk"], header="bcstaff.alert_header",
        kind="alert",
    )  # fmt: skip


async def _double(tx: Tx, rhythm: Rhythm, text: str) -> int | None:
    """A recent alert with the same words: retyped with other punctuation or widths counts."""
    if not rhythm.alert_dedupe_minutes:
        return None
    since = tx.now() - dt.timedelta(minutes=rhythm.alert_dedupe_minutes)
    words = lifecycle.same_words(text)
    for found in await tx.broadcasts.alerts_since(since):
        if lifecycle.same_words(found.text) == words:
            return found.id
    return None


async def _confirmed_alert(
    event: Inbound, t: Translator, tx: Tx, rhythm: Rhythm, text: str
) -> Outbound:
    if double := await _double(tx, rhythm, text):
        return Outbound(t("bcstaff.alert_double", id=double))
    try:
        plan = await _plan_alert(event, t, tx, text)
    except BroadcastError as exc:
        return Outbound(str(exc))
    created = await lifecycle.create(tx, plan, author=event.sender, send_at=tx.now(), kind="alert")
    routes = Markup(plan.routes(t))
    return Outbound(t("bcstaff.alert_sent", id=created.id, n=created.recipients, routes=routes))


async def _withdraw(event: Inbound, t: Translator, tx: Tx, args: list[str]) -> Outbound:
    """Those who got the alert are told it no longer stands, each in their language; what had
    not gone out stops. Taken back once: the conditional UPDATE decides between two staff."""
    if len(args) != 1 or not args[0].isdigit() or len(args[0]) >= 10:
        return Outbound(t("bcstaff.withdraw_usage"))
    wanted = int(args[0])
    if not await tx.broadcasts.withdraw(wanted):
        original = await tx.broadcasts.get(wanted)
        gone = original is not None and original.kind == "withdrawn"
        key = "bcstaff.already_withdrawn" if gone else "bcstaff.no_such_alert"
        return Outbound(t(key, id=wanted))
    original = await tx.broadcasts.get(wanted)
    if original is None:  # cannot happen: just updated in this transaction
        return Outbound(t("bcstaff.no_such_alert", id=wanted))
    await tx.broadcasts.cancel(original.id)  # a running one stops; a finished one is left
    said = original.text[:200]
    final = {
        lang: [t.with_lang(lang)("bcstaff.withdrawn_text", id=original.id, text=said)]
        for lang in LANGUAGES
    }
    followup = await tx.broadcasts.create(
        author=event.sender, kind="withdrawal", audience={"withdraw": original.id},
        text=final[t.lang][0], final=final, priority=lifecycle.PRIORITY["alert"],
        status="scheduled", send_at=tx.now(),
    )  # fmt: skip
    n = await tx.broadcasts.start_followup(followup, original.id)
    await tx.audit.log(event.sender, "alert.withdraw", broadcast=original.id, followup=followup.id)
    return Outbound(t("bcstaff.withdrawn", id=original.id, n=n))


def _mass_waiting(t: Translator, now: datetime, jobs: list[MassJob]) -> list[str]:
    """A mass send WeChat holds for an administrator's confirmation, and for how long."""
    return [
        t("bcstaff.mass_confirming", n=len(j.chats),
          minutes=int((now - j.confirm_since).total_seconds() // 60))
        for j in jobs
        if j.status == "confirming" and j.confirm_since is not None
    ]  # fmt: skip


@router.command("broadcasts", roles=STAFF)
async def broadcasts(t: Translator, tx: Tx, desk: DeskPolicy) -> Outbound:
    recent = await tx.broadcasts.recent(10)
    if not recent:
        return Outbound(t("bcstaff.none"))
    lines, buttons = [t("bcstaff.list_title")], []
    for b in recent:
        counts = await tx.broadcasts.counts(b.id)
        lines.append(
            t(
                "bcstaff.list_line", id=b.id, at=desk.local(b.send_at),
                status=t(f"broadcast.status_{b.status}"), n=b.recipients,
                sent=counts.get("sent", 0), text=b.text[:30],
            )
        )  # fmt: skip
        if b.status == "running":
            lines += _mass_waiting(t, tx.now(), await tx.wechat_mass.of_broadcast(b.id))
            waiting = [j for j in await tx.wecom_groups.of_broadcast(b.id) if j.status == "waiting"]
            if waiting:
                clients = sum(len(j.chats) for j in waiting)
                lines.append(t("bcstaff.group_confirming", n=len(waiting), clients=clients))
        if b.status in ("scheduled", "running"):
            key = "bcstaff.cancel_one" if b.status == "scheduled" else "bcstaff.stop_one"
            buttons.append([Button(t(key, id=b.id), f"bc:x:{b.id}")])
    return Outbound("\n".join(lines), buttons=buttons)
