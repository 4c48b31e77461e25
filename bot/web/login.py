"""Signing in: the password (Argon2id), then the second factor (a TOTP code or a one-time
recovery code). Each step that passes gets a new session token (no fixation); failures count
towards a growing delay; every sign-in, failure and sign-out is in the audit log."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import aiohttp_jinja2
from aiohttp import web

from bot.web import accounts
from bot.web.guard import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    VISITOR,
    Visitor,
    config,
    database,
    new_token,
    redirect,
    secure,
    sessions,
    set_session_cookie,
    tokens_match,
    visitor,
)
from storage.records import StaffAccount

routes = web.RouteTableDef()
SECOND_STEP = timedelta(minutes=5)  # the code must follow the password this soon


def _page(request: web.Request, template: str, **context: object) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(template, request, {"login_csrf": token, **context})
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, path=config(request).path + "/login", httponly=True,
        samesite="Strict", secure=secure(request),
    )  # fmt: skip
    return response


async def _form(request: web.Request) -> dict[str, str]:
    """The posted fields, after the sign-in forms' own CSRF check (a double-submit token:
    no session exists yet to hold one)."""
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    if not tokens_match(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise web.HTTPForbidden(text="the form is out of date: reload the page")
    return form


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return _page(request, "login.html", step="password")


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    name, password = form.get("name", "").strip()[:40], form.get("password", "")[:1000]
    db = database(request)
    async with db.read() as tx:
        account = await tx.staff.by_name(name) if name else None
        now = tx.now()
    refused = _refusal(account, now)
    if refused:
        accounts.decoy_check(password)
        return await _failed(request, account, name, refused, step="password")
    assert account is not None
    if not accounts.password_ok(account.password_hash, password):
        return await _failed(request, account, name, "wrong", step="password")
    response = redirect(config(request).path + "/login/code")
    await _open(request, response, account, stage="password")
    return response


async def _halfway(request: web.Request) -> Visitor:
    """Who passed the password step lately; else back to the start."""
    who = await visitor(request)
    if who is None or who.session.stage != "password":
        raise web.HTTPSeeOther(config(request).path + "/login")
    if database(request).clock() - who.session.created_at > SECOND_STEP:
        raise web.HTTPSeeOther(config(request).path + "/login")
    return who


@routes.get("/login/code")
async def code_page(request: web.Request) -> web.Response:
    await _halfway(request)
    return _page(request, "login.html", step="code")


@routes.post("/login/code")
async def second_factor(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    who = await _halfway(request)
    account, code = who.account, form.get("code", "").strip()[:40]
    db = database(request)
    async with db.write() as tx:
        now = tx.now()
        refused = _refusal(account, now)
        step = accounts.totp_step(account.totp_secret, code, now)
        passed = not refused and (
            await tx.staff.use_totp_step(account.id, step)
            if step is not None
            else await tx.staff.use_recovery_code(account.id, accounts.code_hash(code))
        )
    if not passed:
        return await _failed(request, account, account.name, refused or "wrong", step="code")
    response = redirect(config(request).path + "/")
    await _open(request, response, account, stage="in")
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """Sign out (a signed-in request: the guard checked its CSRF token)."""
    who = request.get(VISITOR)
    response = redirect(config(request).path + "/login")
    if who is not None:
        await sessions(request).close(who.session.token_hash)
        async with database(request).write() as tx:
            await tx.audit.log(who.account.address, "staff.logout", account=who.account.name)
    response.del_cookie(COOKIE, path=config(request).path + "/")
    return response


def _refusal(account: StaffAccount | None, now: datetime) -> str | None:
    if account is None:
        return "wrong"
    if account.disabled_at is not None:
        return "wrong"  # told like a wrong password: nothing to learn about the account
    if account.locked_until is not None and account.locked_until > now:
        return "locked"
    return None


async def _failed(
    request: web.Request, account: StaffAccount | None, name: str, why: str, *, step: str
) -> web.Response:
    async with database(request).write() as tx:
        wait = 0
        if account is not None and why == "wrong":
            failures = await tx.staff.failed(account.id, None)
            until = accounts.lock_after(failures, tx.now())
            if until is not None:
                await tx.staff.change(account.id, locked_until=until)
                wait = int((until - tx.now()).total_seconds()) + 1
        elif account is not None and account.locked_until is not None:
            wait = int((account.locked_until - tx.now()).total_seconds()) + 1
        await tx.audit.log(
            f"staff-console:{name or '-'}", "staff.login_failed", step=step, why=why,
            ip=request.remote or "",
        )  # fmt: skip
    response = _page(request, "login.html", step=step, failed=why, wait=wait)
    response.set_status(401 if why == "wrong" else 429)
    return response


async def _open(
    request: web.Request, response: web.StreamResponse, account: StaffAccount, *, stage: str
) -> None:
    """A new session for this step, the old one (if any) gone: a token known before signing
    in is worth nothing after."""
    token = new_token()
    old = request.cookies.get(COOKIE)
    if old:
        await sessions(request).close(accounts.code_hash(old))
    csrf = secrets.token_urlsafe(24)
    await sessions(request).open(accounts.code_hash(token), account.id, csrf, stage)
    if stage == "in":
        async with database(request).write() as tx:
            await tx.staff.change(
                account.id, failed_logins=0, locked_until=None, last_login_at=tx.now()
            )
            await tx.audit.log(account.address, "staff.login", account=account.name)
    set_session_cookie(request, response, token)
