"""The staff console served by a bot process as `python -m bot run` builds it, with accounts
made as `python -m bot staff add` makes them, and a client that signs in like a browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from bot.web import accounts
from tests.conftest import SettingsFactory
from tests.e2e.platform_process import PlatformProcess
from tests.fakes.clock import FakeTime
from tests.support import free_port

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@dataclass
class Account:
    name: str
    address: str
    secret: str
    recovery: list[str]


@dataclass
class ConsoleBot(PlatformProcess):
    accounts: dict[str, Account] = field(kw_only=True, default_factory=dict)

    @property
    def base(self) -> str:
        s = self.settings
        return f"http://{s.http.host}:{s.http.port}{s.staff_console.path}"

    async def add_account(self, name: str, role: str, address: str | None = None) -> Account:
        address = address or f"staff:{name}"
        enrolment, hashes = accounts.enrol(name)
        async with self.app.db.write() as tx:
            await tx.staff.add(
                name, role, address, accounts.hash_password(PASSWORD), enrolment.secret, hashes
            )
            await tx.roles.grant(address, role, by="test")
        made = Account(name, address, enrolment.secret, enrolment.recovery_codes)
        self.accounts[name] = made
        return made

    def code(self, name: str) -> str:
        return accounts.totp_now(self.accounts[name].secret, self.app.db.clock())


class Browser:
    """A cookie-keeping HTTP client that fills in forms as a browser would (same origin)."""

    def __init__(self, bot: ConsoleBot) -> None:
        self.bot = bot
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        origin = bot.base.split(bot.settings.staff_console.path)[0]
        self.headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}

    async def get(self, path: str, **kw: object) -> tuple[int, str]:
        async with self.http.get(self.bot.base + path, allow_redirects=True, **kw) as r:  # type: ignore[arg-type]
            return r.status, await r.text()

    async def post(
        self, path: str, data: dict[str, str], *, page: str | None = None, **kw: object
    ) -> tuple[int, str, str]:
        """POST a form, with the CSRF token (and nonce) of the page it is on."""
        if page is not None:
            found = CSRF.search(page)
            if found and "csrf" not in data:
                data = {**data, "csrf": found.group(1)}
            nonce = NONCE.search(page)
            if nonce and "nonce" not in data:
                data = {**data, "nonce": nonce.group(1)}
        headers = {**self.headers, **kw.pop("headers", {})}  # type: ignore[dict-item]
        async with self.http.post(
            self.bot.base + path,
            data=data,
            headers=headers,
            allow_redirects=True,
            **kw,  # type: ignore[arg-type]
        ) as r:
            return r.status, await r.text(), str(r.url)

    async def sign_in(self, name: str, password: str = PASSWORD) -> str:
        _, page = await self.get("/login")
        status, page, _ = await self.post("/login", {"name": name, "password": password}, page=page)
        assert status == 200, page
        status, page, url = await self.post("/login/code", {"code": self.bot.code(name)}, page=page)
        assert status == 200 and url.endswith("/desk"), (status, url)
        return page

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def console(
    make_settings: SettingsFactory,
) -> AsyncIterator[ConsoleBot]:
    settings = make_settings(
        STAFF_CONSOLE="on", HTTP_HOST="127.0.0.1", HTTP_PORT=str(free_port()),
        BOT_ADMINS="staff:boss",
    )  # fmt: skip
    bot = ConsoleBot(settings, clock=FakeTime(ticking=True))
    await bot.start()
    yield bot
    await bot.stop()


@pytest.fixture
async def browser(console: ConsoleBot) -> AsyncIterator[Callable[[], Awaitable[Browser]]]:
    made: list[Browser] = []

    async def make() -> Browser:
        b = Browser(console)
        made.append(b)
        return b

    yield make
    for b in made:
        await b.close()


async def signed_in(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]], name: str, role: str
) -> Browser:
    """A new account with `role`, signed in on a browser of its own."""
    await console.add_account(name, role)
    b = await browser()
    await b.sign_in(name)
    return b
