"""A morning note to a firm's mixed audience — Telegram only, WeChat only (some inside the
window, most not) and clients on both — reaches every client exactly once, through the real
App, WeChat channel and mass sender against the fake WeChat API (the same run
`benchmarks/reach.py` measures at 10,000 clients)."""

from __future__ import annotations

import pytest

from benchmarks.reach import measure

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def test_a_morning_note_reaches_each_client_of_a_mixed_audience_once() -> None:
    f = await measure(40)
    assert f.plan == {"telegram.direct": 24, "wechat.window": 4, "wechat.mass": 12}
    assert f.reached == 40 and min(f.copies) == max(f.copies) == 1
    assert f.old_reached == 28  # the first-address routing left WeChat outside the window out
    assert f.calls.get("mass/send") == 1 and f.calls.get("custom/send") == 4
