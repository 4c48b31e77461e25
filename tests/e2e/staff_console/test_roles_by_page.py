"""Each role on each page of the staff console, as the chat commands decide: advisors work
the desk, client files and the FAQ (reading it; `/faq` changes are staff's); broadcasts,
notes and reports are staff's, the audit log is admins'; an admin may do everything."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.e2e.staff_console.conftest import Browser, ConsoleBot

PAGES = {  # page: the roles that may open it
    "/desk": {"advisor", "staff", "admin"},
    "/desk?view=breached": {"advisor", "staff", "admin"},
    "/talk": {"advisor", "staff", "admin"},
    "/clients": {"advisor", "staff", "admin"},
    "/faq": {"advisor", "staff", "admin"},
    "/broadcasts": {"staff", "admin"},
    "/broadcasts/new": {"staff", "admin"},
    "/notes": {"staff", "admin"},
    "/reports": {"staff", "admin"},
    "/reports/2026-11/complaints.csv": {"staff", "admin"},
    "/reports/2026-11/monthly.html": {"staff", "admin"},
    "/audit": {"admin"},
}


@pytest.mark.parametrize("role", ["advisor", "staff", "admin"])
async def test_each_role_opens_exactly_its_pages(
    console: ConsoleBot, browser: Callable[[], Awaitable[Browser]], role: str
) -> None:
    await console.add_account("someone", role)
    b = await browser()
    await b.sign_in("someone")
    opened = {path for path in PAGES if (await b.get(path))[0] == 200}
    assert opened == {path for path, roles in PAGES.items() if role in roles}
