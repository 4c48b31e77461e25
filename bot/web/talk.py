"""Talking with the bot from the staff console: any command a chat takes (`/broadcast`,
`/note`, `/faq`, `/client`, ...), typed in a box, with the bot's answers and their buttons,
each a form that presses it. The same handlers and role checks as in a chat."""

from __future__ import annotations

import secrets

import aiohttp_jinja2
from aiohttp import web

from bot.web.acting import act, answer, answers_to
from bot.web.desk import who
from bot.web.guard import config, database, redirect

routes = web.RouteTableDef()
SHOWN = 30  # the last messages of the conversation on the page


@routes.get("/talk")
async def talk_page(request: web.Request) -> web.Response:
    me = who(request)
    async with database(request).read() as tx:
        rows = await tx.messages.for_chat(me.chat, limit=SHOWN)
    lines = [
        (r.direction, r.created_at, answer(r.text or "", r.payload if r.direction == "out" else {}))
        for r in rows
    ]
    context = {
        "lines": lines, "nonce": secrets.token_urlsafe(16),
        "answers": await answers_to(request, me, request.query.get("done")),
    }  # fmt: skip
    return aiohttp_jinja2.render_template("talk.html", request, context)


@routes.post("/talk")
async def say(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("text", "")).strip()
    if not text:
        raise web.HTTPBadRequest(text="nothing written")
    done = await act(request, who(request), text=text, nonce=str(form.get("nonce", "")) or None)
    return redirect(_back(request, str(form.get("back", ""))) + _done(done))


@routes.post("/press")
async def press(request: web.Request) -> web.StreamResponse:
    """A button of one of the bot's answers."""
    form = await request.post()
    data = str(form.get("data", ""))
    if not data:
        raise web.HTTPBadRequest(text="no button")
    done = await act(request, who(request), callback=data, nonce=str(form.get("nonce", "")) or None)
    return redirect(_back(request, str(form.get("back", ""))) + _done(done))


def _done(done: int | None) -> str:
    return f"?done={done}" if done else "?again=1"


def _back(request: web.Request, back: str) -> str:
    """Where the form came from, only ever a page of the console."""
    root = config(request).path
    path = back.split("?", 1)[0]
    ok = path.startswith(root + "/") and "//" not in path and ".." not in path
    return path if ok else root + "/talk"
