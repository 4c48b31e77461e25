"""The desk: the ticket inbox (open, mine, breached, waiting for the client; VIP and the most
urgent first), a ticket with its history and the client's file beside it, and what can be
done with it — claim, reply, resolve, hand over — each done through the bot as the staff
member (`acting.act`), so every rule of the chat desk holds here too."""

from __future__ import annotations

import secrets
from datetime import datetime

import aiohttp_jinja2
from aiohttp import web

from bot.web.acting import act, answers_to
from bot.web.guard import VISITOR, Visitor, config, database, path_id, redirect

routes = web.RouteTableDef()

VIEWS = ("open", "mine", "breached", "waiting")


def who(request: web.Request) -> Visitor:
    return request[VISITOR]


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    return redirect(config(request).path + "/desk")


async def _listing(request: web.Request) -> dict[str, object]:
    view = request.query.get("view", "mine" if "advisor" in who(request).roles else "open")
    view = view if view in VIEWS else "open"
    me = who(request).account.address
    async with database(request).read() as tx:
        now = tx.now()
        found = await tx.tickets.listing(
            statuses=("waiting",) if view == "waiting" else ("open", "claimed", "waiting"),
            advisor=me if view == "mine" else None,
            breached_at=now if view == "breached" else None,
            limit=100,
        )
    return {"view": view, "views": VIEWS, "tickets": found, "now": now}


@routes.get("/desk")
async def desk(request: web.Request) -> web.Response:
    context = await _listing(request)
    template = "desk_rows.html" if request.headers.get("HX-Request") else "desk.html"
    return aiohttp_jinja2.render_template(template, request, context)


def _ticket_id(request: web.Request) -> int:
    return path_id(request, "ticket")


@routes.get("/desk/ticket/{ticket}")
async def ticket_page(request: web.Request) -> web.Response:
    ticket_id = _ticket_id(request)
    async with database(request).read() as tx:
        ticket = await tx.tickets.get(ticket_id)
        if ticket is None:
            raise web.HTTPNotFound(text="no such ticket")
        history = await tx.tickets.history(ticket.id)
        client = await tx.clients.get(ticket.client_id)
        file = await tx.files.get(client) if client and client.erased_at is None else None
        now = tx.now()
    async with database(request).write() as tx:
        viewers = await tx.staff.viewing(ticket.id, who(request).account.name)
    context = {
        "ticket": ticket, "history": history, "client": client, "file": file, "now": now,
        "left": _left(ticket.due_at, now) if ticket.responded_at is None else None,
        "viewers": viewers, "nonce": secrets.token_urlsafe(16),
        "answers": await answers_to(request, who(request), request.query.get("done")),
    }  # fmt: skip
    template = "ticket_live.html" if request.headers.get("HX-Request") else "ticket.html"
    return aiohttp_jinja2.render_template(template, request, context)


@routes.post("/desk/ticket/{ticket}")
async def ticket_action(request: web.Request) -> web.StreamResponse:
    """claim / reply / resolve / hand over, as the chat desk does them."""
    ticket_id = _ticket_id(request)
    form = await request.post()
    action, text = str(form.get("action", "")), str(form.get("text", "")).strip()
    async with database(request).read() as tx:
        ticket = await tx.tickets.get(ticket_id)
    if ticket is None:
        raise web.HTTPNotFound(text="no such ticket")
    nonce = str(form.get("nonce", "")) or None
    if action in ("claim", "handover"):
        kind = "c" if action == "claim" else "h"
        done = await act(request, who(request), callback=f"tk:{kind}:{ticket.id}", nonce=nonce)
    elif action in ("reply", "resolve") and text:
        done = await act(
            request, who(request), text=f"/{action} {ticket.number} {text}", nonce=nonce
        )
    else:
        raise web.HTTPBadRequest(text="unknown action, or nothing written")
    back = f"{config(request).path}/desk/ticket/{ticket.id}"
    return redirect(back + (f"?done={done}" if done else "?again=1"))


def _left(due: datetime, now: datetime) -> int:
    """Minutes until the first answer is due (negative: late by that much)."""
    return int((due - now).total_seconds() // 60)
