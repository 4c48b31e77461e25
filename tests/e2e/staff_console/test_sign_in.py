"""Signing in to the staff console: password then TOTP, sessions rotated, lockout growing,
everything audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.e2e.staff_console.conftest import Browser, ConsoleBot


async def test_sign_in_with_password_and_totp(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]]
) -> None:
    await console.add_account("zhangwei", "advisor")
    b = await browser()
    status, page = await b.get("/desk")
    assert status == 200 and 'name="password"' in page  # sent to sign in
    desk = await b.sign_in("zhangwei")
    assert "工单工作台" in desk and "zhangwei" in desk
