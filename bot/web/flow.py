"""The service flow in the console: the board of clients in the flow (overdue first), and on
a client's page their steps, marked as the chat's `/onboard ID …` (the same checks, audited)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.web.acting import act
from bot.web.clients import CLIENT_ROLES
from bot.web.desk import who
from bot.web.guard import APP, config, database, path_id, redirect
from storage.records import ONBOARDING_STEPS

routes = web.RouteTableDef()

SHOWN = 200
ACTIONS = ("done", "skip", "undo")


def _allowed(request: web.Request) -> None:
    if not who(request).roles & CLIENT_ROLES:
        raise web.HTTPForbidden(text="the service flow is for advisors and staff")


def due_days(request: web.Request) -> dict[str, int]:
    return dict(request.config_dict[APP].settings.desk.onboarding_due)


@routes.get("/onboarding")
async def board_page(request: web.Request) -> web.Response:
    _allowed(request)
    due = due_days(request)
    rows = []
    async with database(request).read() as tx:
        now = tx.now()
        for flow, late in (await tx.onboarding.board(due, now))[:SHOWN]:
            step = flow.next_step()
            rows.append((flow, step, flow.due_at(step, due) if step else None, late))
    return aiohttp_jinja2.render_template(
        "onboarding.html", request, {"rows": rows, "steps": ONBOARDING_STEPS}
    )


@routes.post("/clients/{client}/flow")
async def mark(request: web.Request) -> web.StreamResponse:
    """One step done, skipped (with the reason) or undone; "open" starts the flow."""
    _allowed(request)
    client_id = path_id(request, "client")
    form = await request.post()
    step, action = str(form.get("step", "")), str(form.get("action", ""))
    reason = " ".join(str(form.get("reason", "")).split())[:500]
    if action == "open":
        typed = f"/onboard {client_id} open"
    elif step in ONBOARDING_STEPS and action in ACTIONS:
        typed = f"/onboard {client_id} {step} {action} {reason}".rstrip()
    else:
        raise web.HTTPBadRequest(text="unknown step or action")
    done = await act(request, who(request), text=typed, nonce=str(form.get("nonce", "")) or None)
    back = f"{config(request).path}/clients/{client_id}"
    return redirect(back + (f"?done={done}" if done else "?again=1"))
