"""Who is asking, and whether they may: the session cookie (a random token; the database
keeps its hash), idle and absolute timeouts, the account still enabled and its address still
holding a desk role, and for anything that changes state a same-site request carrying the
session's CSRF token."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.web.accounts import code_hash
from bot.web.console import ConsoleSettings
from bot.web.sessions import SessionStore
from storage.database import Database
from storage.records import StaffAccount, StaffSession

COOKIE = "staff_session"
LOGIN_CSRF_COOKIE = "staff_login_csrf"
DESK_ROLES = frozenset({"advisor", "staff", "admin"})
TOUCH_EVERY = timedelta(minutes=1)  # seen_at is written at most this often
OPEN_PATHS = ("/login", "/static/")  # reachable before signing in

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What the console's pages share, on its application.
APP: web.AppKey[Any] = web.AppKey("console_app")  # bot.app.App: db, inbox, translator
SETTINGS = web.AppKey("console_settings", ConsoleSettings)
SESSIONS: web.AppKey[Any] = web.AppKey("console_sessions")  # a sessions.SessionStore


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in staff member, as this request sees them."""

    account: StaffAccount
    session: StaffSession
    roles: frozenset[str]

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & {"staff", "admin"})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def chat(self) -> str:
        return f"staff:{self.account.name}"


VISITOR = web.RequestKey("visitor", Visitor)


def config(request: web.Request) -> ConsoleSettings:
    return request.config_dict[SETTINGS]


def database(request: web.Request) -> Database:
    return request.config_dict[APP].db


def sessions(request: web.Request) -> SessionStore:
    return request.config_dict[SESSIONS]


def secure(request: web.Request) -> bool:
    mode = config(request).secure_cookie
    if mode != "auto":
        return mode == "on"
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        COOKIE, token, path=config(request).path + "/", httponly=True, samesite="Lax",
        secure=secure(request),
    )  # fmt: skip


def same_site(request: web.Request) -> bool:
    """Refuse what another site's page made the browser send (Fetch Metadata, else Origin)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return fetch_site is not None or origin is None
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    scheme = forwarded or request.scheme
    return origin == f"{scheme}://{request.host}"


def tokens_match(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]


async def csrf_given(request: web.Request) -> str | None:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get("csrf")
        return value if isinstance(value, str) else None
    return None


async def visitor(request: web.Request) -> Visitor | None:
    """The signed-in account of this request, or None (and a dead session is removed)."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    key = code_hash(token)
    cfg = config(request)
    db = database(request)
    session = await sessions(request).get(key)
    async with db.read() as tx:
        account = await tx.staff.get(session.account_id) if session else None
        roles = await tx.roles.of(account.address) if account else set()
        now = tx.now()
    if session is None or account is None:
        return None
    expired = (
        now - session.seen_at > timedelta(minutes=cfg.idle_minutes)
        or now - session.created_at > timedelta(hours=cfg.max_hours)
        or account.disabled_at is not None
    )
    if expired:
        await sessions(request).close(key)
        return None
    if now - session.seen_at > TOUCH_EVERY:
        await sessions(request).touch(key)
    if account.address in cfg.admins:
        roles.add("admin")
    return Visitor(account, session, frozenset(roles))


def staff_only(request: web.Request) -> None:
    """Pages whose chat commands are staff's (`/broadcast`, `/note`, reports): not advisors."""
    if not request[VISITOR].is_staff:
        raise web.HTTPForbidden(text="this page is for staff")


ID_DIGITS = 9  # ids in a path: a number the database's integer holds, else no such page


def path_id(request: web.Request, name: str) -> int:
    """The id in the path's `name` part; 404 for anything but a plain number of ours."""
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > ID_DIGITS:
        raise web.HTTPNotFound(text=f"no such {name}")
    return int(raw)


def redirect(location: str) -> web.Response:
    """303 See Other: after a form, the browser GETs the next page."""
    return web.Response(status=303, headers={"Location": location})


def new_token() -> str:
    return secrets.token_urlsafe(32)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign-in, role and CSRF checks before any page of the console."""
    rel = request.path[len(config(request).path) :] or "/"
    if rel.startswith(OPEN_PATHS):
        if request.method not in ("GET", "HEAD") and not same_site(request):
            raise web.HTTPForbidden(text="cross-site request refused")
        return await handler(request)
    who = await visitor(request)
    if who is None or who.session.stage != "in":
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(config(request).path + "/login")
        raise web.HTTPUnauthorized(text="sign in first")
    if not who.roles & DESK_ROLES:
        raise web.HTTPForbidden(text="this account's address holds no staff or advisor role")
    if request.method not in ("GET", "HEAD"):
        if not same_site(request):
            raise web.HTTPForbidden(text="cross-site request refused")
        if not tokens_match(await csrf_given(request), who.session.csrf):
            raise web.HTTPForbidden(text="the form is out of date: reload the page")
    request[VISITOR] = who
    return await handler(request)
