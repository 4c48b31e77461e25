"""The staff console's broadcasts: the recent ones with their delivery figures (a running
one's refreshed every few seconds), and a compose form that runs the chat's own `/broadcast`
flow step by step as the staff member (`acting.act`): the preview (recipients, reach, the text
as clients get it), a compliance refusal or a role refusal are the chat's own answers, shown
with their buttons; cancelling or stopping one is the chat's button too."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.core.i18n import Translator
from bot.core.text import to_plain
from bot.web.acting import Answer, act, answers_to
from bot.web.desk import who
from bot.web.guard import APP, config, database, redirect, staff_only
from broadcasts import lifecycle
from broadcasts.lifecycle import BroadcastError
from broadcasts.reach import routes_text

routes = web.RouteTableDef()

SHOWN = 20  # the most recent broadcasts on the page
LIVE = ("scheduled", "running", "stopping")  # the page keeps refreshing while one is
WAITING = ("pending", "queued", "sending")
OUTCOMES = ("sent", "mass", "blocked", "failed", "ambiguous", "cancelled")
MAX_TOPIC = 40
MAX_SEGMENT = 200
MAX_SMS = 500  # the longest SMS text Alibaba takes; the plan names the real limit


@dataclass(frozen=True, slots=True)
class Figures:
    """One broadcast with its delivery rows by state (one per recipient)."""

    broadcast: Any  # storage.repos.broadcasts.Broadcast
    counts: dict[str, int]

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(s, 0) for s in WAITING)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.total - self.waiting

    @property
    def topics(self) -> list[str]:
        return list(self.broadcast.audience.get("topics") or [])

    @property
    def segment(self) -> str:
        """The segment as staff write it (tier=vip,tag=黄金), or ""."""
        segment = self.broadcast.audience.get("segment") or {}
        return ",".join(f"{k}={v}" for k, v in segment.items())


async def _figures(request: web.Request) -> dict[str, Any]:
    async with database(request).read() as tx:
        recent = await tx.broadcasts.recent(SHOWN)
        rows = [Figures(b, await tx.broadcasts.counts(b.id)) for b in recent]
        topics = {tp.key: tp for tp in await tx.topics.list()}
    return {
        "rows": rows, "live": any(r.broadcast.status in LIVE for r in rows), "topics": topics,
        "outcomes": OUTCOMES, "nonce": secrets.token_urlsafe(16),
    }  # fmt: skip


@routes.get("/broadcasts")
async def listing(request: web.Request) -> web.Response:
    staff_only(request)
    context = await _figures(request)
    if request.headers.get("HX-Request"):
        return aiohttp_jinja2.render_template("broadcast_rows.html", request, context)
    context["answers"] = await answers_to(request, who(request), request.query.get("done"))
    return aiohttp_jinja2.render_template("broadcasts.html", request, context)


@routes.get("/broadcasts/new")
async def compose(request: web.Request) -> web.Response:
    staff_only(request)
    return await _compose(request, request.query.get("done"), request.query.get("preview"))


async def _compose(
    request: web.Request, done: str | None, shown: str | None, kept: dict[str, Any] | None = None
) -> web.Response:
    """The form, with the chat's answers; `kept`: what was typed, when the chat did not take
    it (refused, or asked something else), so nothing is lost."""
    me = who(request)
    async with database(request).read() as tx:
        topics = [tp for tp in await tx.topics.list() if tp.enabled]
    # When scheduled: the preview again (its text as clients get it), without its buttons.
    preview = [Answer(a.text, []) for a in await answers_to(request, me, shown)]
    # The time is the form's to give: the chat's "later" would ask for it in words.
    answers = [
        Answer(a.text, [b for b in a.buttons if b.data != "bc:later"])
        for a in await answers_to(request, me, done)
    ]
    context = {
        "topics": topics, "nonce": secrets.token_urlsafe(16), "answers": preview + answers,
        "back": config(request).path + "/broadcasts",
        "kept": kept or {"topics": [], "segment": "", "text": "", "sms": "", "at": ""},
    }  # fmt: skip
    return aiohttp_jinja2.render_template("broadcast_new.html", request, context)


@routes.get("/broadcasts/audience")
async def audience(request: web.Request) -> web.Response:
    """Who the form's topics or segment would reach now, as the form is filled in (the
    preview counts again when it is made)."""
    staff_only(request)
    t = await _translator(request)
    topics = [k for k in request.query.getall("topic", []) if 0 < len(k) <= MAX_TOPIC]
    raw = request.query.get("segment", "").strip()[:MAX_SEGMENT]
    try:
        segment = lifecycle.parse_segment(raw) if raw else None
        async with database(request).read() as tx:
            found, _ = await lifecycle.audience_for(tx, t, topics, segment)
            reach = await tx.broadcasts.reach(found)
        text = t("web_broadcasts.audience", count=sum(reach.values()))
        text += "\n" + to_plain(routes_text(t, reach))
    except BroadcastError as exc:
        text = str(exc) if (topics or raw) else t("web_broadcasts.audience_none")
    return aiohttp_jinja2.render_template("broadcast_audience.html", request, {"count": text})


async def _translator(request: web.Request) -> Translator:
    """The staff member's language, as the pages speak it."""
    t = request.config_dict[APP].translator
    async with database(request).read() as tx:
        person = await tx.clients.by_address(who(request).account.address)
    return t.with_lang(person.language) if person and person.language else t


@routes.post("/broadcasts/new")
async def start(request: web.Request) -> web.StreamResponse:
    """The chat's steps in order — /broadcast, each topic's button and "next" (or
    /broadcast segment …), the text, and for a later time "later" and the time — each only
    when the answer before offered it; the page then shows the last answer."""
    staff_only(request)
    form = await request.post()
    text = str(form.get("text", "")).strip()
    if not text:
        raise web.HTTPBadRequest(text="nothing written")
    sms = " ".join(str(form.get("sms", "")).split())[:MAX_SMS]
    written_text = f"{text}\n\n短信:{sms}" if sms else text  # as typed in a chat
    segment = str(form.get("segment", "")).strip()[:MAX_SEGMENT]
    topics = [str(k) for k in form.getall("topic", []) if 0 < len(str(k)) <= MAX_TOPIC]
    at = str(form.get("at", "")).strip().replace("T", " ")[:32]
    steps: list[tuple[dict[str, str], str]] = []  # (what is done, the button it should offer)
    if segment:
        steps.append(({"text": f"/broadcast segment {segment}"}, "req:cancel"))
    else:
        steps.append(({"text": "/broadcast"}, "bc:next"))
        steps += [({"callback": f"bc:t:{key}"}, "bc:next") for key in topics]
        steps.append(({"callback": "bc:next"}, "req:cancel"))
    written = len(steps)  # the step whose answer is the preview
    steps.append(({"text": written_text}, "bc:now"))
    if at:
        steps += [({"callback": "bc:later"}, "req:cancel"), ({"text": at}, "bc:confirm")]
    nonce = str(form.get("nonce", ""))[:40] or secrets.token_urlsafe(16)
    me, done, preview, taken = who(request), None, None, True
    for n, (step, offered) in enumerate(steps):
        done = await act(request, me, nonce=f"{nonce}:{n}", **step)
        if done is None:  # this form was sent before (a double click, a reload)
            break
        if n == written:
            preview = done
        answers = await answers_to(request, me, str(done))
        if not any(b.data == offered for a in answers for b in a.buttons):
            taken = False  # refused, or the chat asks something else: show that answer,
            break  # and the form again as typed
    back = config(request).path + "/broadcasts/new"
    if done is None:
        return redirect(back + "?again=1")
    if not taken:
        kept = {
            "topics": topics, "segment": segment, "text": text, "sms": sms,
            "at": str(form.get("at", "")),
        }  # fmt: skip
        return await _compose(request, str(done), None, kept)
    shown = f"&preview={preview}" if at and preview is not None and preview != done else ""
    return redirect(f"{back}?done={done}{shown}")
