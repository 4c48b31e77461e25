"""Who may do what in the staff console: nothing before both sign-in steps, nothing from
another site or without the page's CSRF token, a session token that was known before signing
in is worth nothing after, a disabled account or a revoked role ends a live session, sessions
time out, failures lock the account for a growing while, and pages check roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from yarl import URL

from tests.e2e.staff_console.conftest import PASSWORD, Browser, ConsoleBot, signed_in
from tests.fakes.clock import FakeTime

PAGES = (
    "/", "/desk", "/desk?view=breached", "/desk/ticket/1", "/talk", "/audit", "/broadcasts",
    "/broadcasts/new", "/notes",
)  # fmt: skip
ACTIONS = ("/talk", "/press", "/desk/ticket/1", "/logout", "/broadcasts/new", "/notes")

Browsers = Callable[[], Awaitable[Browser]]


async def test_nothing_is_shown_or_done_before_signing_in(
    console: ConsoleBot, browser: Browsers
) -> None:
    b = await browser()
    for path in PAGES:
        async with b.http.get(console.base + path, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].endswith("/login"), path
    for path in ACTIONS:
        async with b.http.post(console.base + path, data={"text": "/duty on"}) as r:
            assert r.status in (401, 403), path


async def test_the_password_alone_opens_nothing(console: ConsoleBot, browser: Browsers) -> None:
    await console.add_account("li", "staff")
    b = await browser()
    _, page = await b.get("/login")
    await b.post("/login", {"name": "li", "password": PASSWORD}, page=page)
    async with b.http.get(console.base + "/desk", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].endswith("/login")
    console.clock.advance(minutes=6)  # the code must follow the password within 5 minutes
    _, page = await b.get("/login/code")
    assert 'name="password"' in page


async def test_cross_site_and_tokenless_changes_are_refused(
    console: ConsoleBot, browser: Browsers
) -> None:
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/talk")
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    status, _, _ = await b.post("/talk", {"text": "/duty on"}, page=page, headers=evil)
    assert status == 403
    status, _, _ = await b.post("/talk", {"text": "/duty on", "csrf": "forged"}, page=page)
    assert status == 403
    status, _, _ = await b.post("/talk", {"text": "/help"}, page=None)  # no token at all
    assert status == 403
    _, login_page = await b.get("/login")
    status, _, _ = await b.post(
        "/login", {"name": "li", "password": PASSWORD}, page=login_page, headers=evil
    )
    assert status == 403  # the sign-in form too
    async with console.app.db.read() as tx:
        said = await tx.messages.for_chat("staff:li", limit=50)
    assert not [m for m in said if m.direction == "in" and m.text == "/duty on"]


async def test_a_session_token_known_before_signing_in_is_worth_nothing(
    console: ConsoleBot, browser: Browsers
) -> None:
    await console.add_account("li", "staff")
    b = await browser()
    b.http.cookie_jar.update_cookies(
        {"staff_session": "planted-by-an-attacker"}, response_url=URL(console.base + "/")
    )
    _, page = await b.get("/login")
    await b.post("/login", {"name": "li", "password": PASSWORD}, page=page)
    halfway = _cookie(b)
    await b.sign_in("li")
    final = _cookie(b)
    assert len({"planted-by-an-attacker", halfway, final}) == 3
    other = await browser()
    other.http.cookie_jar.update_cookies(
        {"staff_session": halfway}, response_url=URL(console.base + "/")
    )
    async with other.http.get(console.base + "/desk", allow_redirects=False) as r:
        assert r.status == 303  # the first step's token was retired at the second


async def test_disabling_an_account_or_revoking_its_role_ends_its_live_session(
    console: ConsoleBot, browser: Browsers
) -> None:
    li = await console.add_account("li", "staff")
    wang = await console.add_account("wang", "advisor")
    b, c = await browser(), await browser()
    await b.sign_in("li")
    await c.sign_in("wang")
    async with console.app.db.write() as tx:
        account = await tx.staff.by_name("li")
        await tx.staff.change(account.id, disabled_at=tx.now())  # type: ignore[union-attr]
        await tx.roles.revoke(wang.address)
    async with b.http.get(console.base + "/desk", allow_redirects=False) as r:
        assert r.status == 303
    async with c.http.get(console.base + "/desk", allow_redirects=False) as r:
        assert r.status == 403
    assert li.address == "staff:li"


async def test_sessions_time_out_when_idle_and_when_old(
    console: ConsoleBot, browser: Browsers
) -> None:
    clock: FakeTime = console.clock
    b = await signed_in(console, browser, "li", "staff")
    clock.advance(minutes=29)
    assert (await b.get("/desk"))[0] == 200
    clock.advance(minutes=31)  # idle for more than 30 minutes
    async with b.http.get(console.base + "/desk", allow_redirects=False) as r:
        assert r.status == 303
    await b.sign_in("li")
    since = clock()
    for _ in range(30):  # busy all along, yet 12 hours is the most a session lasts
        clock.advance(minutes=29)
        async with b.http.get(console.base + "/desk", allow_redirects=False) as r:
            if r.status == 303:
                break
    lasted = clock() - since
    assert r.status == 303 and timedelta(hours=12) <= lasted < timedelta(hours=12, minutes=30)


async def test_failures_lock_for_a_growing_while_and_are_audited(
    console: ConsoleBot, browser: Browsers
) -> None:
    clock: FakeTime = console.clock
    await console.add_account("li", "staff")
    b = await browser()
    _, page = await b.get("/login")
    statuses = []
    for _ in range(5):
        status, page, _ = await b.post(
            "/login", {"name": "li", "password": "wrong one!"}, page=page
        )
        statuses.append(status)
    assert statuses[:3] == [401, 401, 401] and "秒后再试" in page
    status, page, _ = await b.post("/login", {"name": "li", "password": PASSWORD}, page=page)
    assert status == 429  # locked: even the right password waits
    clock.advance(seconds=5)
    status, page, _ = await b.post("/login", {"name": "li", "password": PASSWORD}, page=page)
    assert status == 200 and 'name="code"' in page
    status, page, _ = await b.post("/login", {"name": "nobody", "password": "x" * 12}, page=page)
    assert status == 401
    async with console.app.db.read() as tx:
        failed = await tx.audit.recent("staff.login_failed")
    assert len(failed) >= 6


async def test_a_totp_code_works_once(console: ConsoleBot, browser: Browsers) -> None:
    """A code seen over a shoulder (or sent twice) does not open a second session."""
    await console.add_account("li", "staff")
    code = console.code("li")
    outcomes = []
    for _ in range(2):
        b = await browser()
        _, page = await b.get("/login")
        _, page, _ = await b.post("/login", {"name": "li", "password": PASSWORD}, page=page)
        _, page, url = await b.post("/login/code", {"code": code}, page=page)
        outcomes.append(url.endswith("/desk"))
    assert outcomes == [True, False]


async def test_a_recovery_code_works_once(console: ConsoleBot, browser: Browsers) -> None:
    li = await console.add_account("li", "staff")
    for attempt in range(2):
        b = await browser()
        _, page = await b.get("/login")
        _, page, _ = await b.post("/login", {"name": "li", "password": PASSWORD}, page=page)
        status, page, url = await b.post("/login/code", {"code": li.recovery[0]}, page=page)
        assert (status == 200 and url.endswith("/desk")) == (attempt == 0), (attempt, status)


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        ("advisor", "/audit", False),
        ("staff", "/audit", False),
        ("admin", "/audit", True),
        ("advisor", "/desk/ticket/99999", False),
        ("advisor", "/desk/ticket/1%27%20or%201=1", False),
    ],
)
async def test_pages_check_roles_and_ids(
    console: ConsoleBot, browser: Browsers, role: str, path: str, allowed: bool
) -> None:
    await console.add_account("someone", role)
    b = await browser()
    await b.sign_in("someone")
    status, _ = await b.get(path)
    assert (status == 200) == allowed, status


def _cookie(b: Browser) -> str:
    """The session cookie the browser would send to a page."""
    return b.http.cookie_jar.filter_cookies(URL(b.bot.base + "/desk"))["staff_session"].value
