"""The health record: sources, quiet faults, a restored outage; where staff are told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.health import Health, Told
from bot.core.health.notices import OutageNotices
from bot.core.i18n import default_translator

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_a_channel_is_down_while_any_source_fails_since_the_first() -> None:
    clock = Clock()
    health = Health(clock)
    health.track("qq", ("qq", "qqgroup"))
    health.down("qq", "OneBot is not connected", source="link")
    clock.now += timedelta(seconds=30)
    health.failed("qqgroup", "timeout")
    qq = health.get("qqgroup:123")
    assert (qq.channel, qq.since, qq.error) == ("qq", T0, "timeout")
    health.up("qq", source="link")
    assert qq.down, "the sends still fail"
    health.answered("qqgroup")
    assert not qq.down and qq.up_at == clock.now
    assert [c.channel for c in health.channels()] == ["qq"]


def test_a_change_wakes_the_watcher_and_a_repeat_does_not() -> None:
    health = Health(Clock())
    health.failed("telegram", "Bad Gateway")
    assert health.changed.is_set()
    health.changed.clear()
    health.failed("telegram", "Gateway Timeout")
    health.answered("wechat")  # nothing known of it: nothing to say
    assert not health.changed.is_set()
    assert health.get("telegram").error == "Gateway Timeout"


def test_a_quiet_fault_is_shown_but_not_loud() -> None:
    health = Health(Clock())
    health.down("sms", "isv.AMOUNT_NOT_ENOUGH", source="account", quiet=True)
    sms = health.get("sms")
    assert sms.down and not sms.loud
    health.failed("sms", "HTTP 503")
    assert sms.loud


def test_an_outage_told_by_an_earlier_process_ends_with_any_success() -> None:
    health = Health(Clock())
    health.restore("telegram", Told(T0, "Bad Gateway"))
    telegram = health.get("telegram")
    assert telegram.down and telegram.since == T0 and not telegram.loud
    health.up("telegram")  # getUpdates works again
    assert not telegram.down and telegram.told is not None


def notices(staff: str | None, admins: tuple[str, ...]) -> OutageNotices:
    health = Health(Clock())
    health.track("qq", ("qq", "qqgroup"))
    return OutageNotices(
        health, None, None, default_translator(),  # type: ignore[arg-type]
        after=120, staff_chat=staff, admins=admins, tz=ZoneInfo("Asia/Shanghai"),
    )  # fmt: skip


def test_staff_are_told_on_a_route_that_avoids_the_failing_channel() -> None:
    admins = ("telegram:1", "wechat:o1", "qq:2")
    assert notices("qqgroup:5", admins).targets("telegram") == ["qqgroup:5"]
    assert notices("qqgroup:5", admins).targets("qq") == ["telegram:1", "wechat:o1"]
    assert notices(None, admins).targets("wechat") == ["qq:2", "telegram:1"]
    assert notices("telegram:-100", ("telegram:1",)).targets("telegram") == []
